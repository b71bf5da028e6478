package dev.conveyor.control;

import dev.conveyor.testkit.TestBroker;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/** Runs {@code control} in-process, as {@code main} would, capturing what it prints. */
final class Control {

  /** The outcome of one run. */
  record Result(int exit, String out, String err) {
    List<String> lines() {
      return out.lines().toList();
    }

    @Override
    public String toString() {
      return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  /** A run in progress, whose output can be read while it runs (e.g. {@code watch}). */
  static final class Running {
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();
    private final String[] args;
    private final CommandLine commandLine;

    /** The command line {@code main} would build for these arguments. */
    Running(String... args) {
      this.args = args.clone();
      this.commandLine = ControlMain.commandLine(args);
      commandLine.setOut(new PrintWriter(out, true));
      commandLine.setErr(new PrintWriter(err, true));
    }

    Result run() {
      int exit = commandLine.execute(args);
      return new Result(exit, out.toString(), err.toString());
    }
  }

  private Control() {}

  static Result run(String... args) {
    return new Running(args).run();
  }

  /** Runs against the test's broker and namespace. */
  static Result run(TestBroker broker, String... args) {
    return run(withBroker(broker, args));
  }

  static String[] withBroker(TestBroker broker, String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.add("--uri=" + broker.uri());
    all.add("--namespace=" + broker.namespace());
    return all.toArray(String[]::new);
  }
}
