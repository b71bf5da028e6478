package dev.conveyor.testkit;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Checks a program's help as picocli prints it: each element of a description is a line of its own,
 * which picocli wraps at the usage width, so a sentence split over two elements is printed broken
 * where its author split it ("… or a named one did not" / "answer.").
 */
public final class HelpText {
  private HelpText() {}

  /**
   * The description elements of {@code cl}, its subcommands, options and parameters that stop
   * mid-sentence while another element follows, each as {@code "<command>: <element>"}; empty when
   * every paragraph is whole.
   */
  public static List<String> sentencesSplitOverLines(CommandLine cl) {
    List<String> found = new ArrayList<>();
    collect(cl, found);
    return found;
  }

  private static void collect(CommandLine cl, List<String> found) {
    CommandSpec spec = cl.getCommandSpec();
    String name = spec.qualifiedName();
    check(name, spec.usageMessage().description(), found);
    check(name, spec.usageMessage().header(), found);
    for (ArgSpec arg : spec.args()) {
      String label = arg instanceof OptionSpec option ? option.longestName() : arg.paramLabel();
      check(name + " " + label, arg.description(), found);
    }
    cl.getSubcommands().values().stream()
        .filter(sub -> sub.getParent() == cl)
        .forEach(sub -> collect(sub, found));
  }

  private static void check(String where, String[] lines, List<String> found) {
    for (int i = 0; i < lines.length - 1; i++) {
      String line = lines[i].strip();
      if (!line.isEmpty() && ".:!?)".indexOf(line.charAt(line.length() - 1)) < 0) {
        found.add(where + ": " + line);
      }
    }
  }
}
