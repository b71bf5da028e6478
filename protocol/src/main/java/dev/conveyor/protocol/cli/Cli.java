package dev.conveyor.protocol.cli;

import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Runs a picocli command with the exit codes in docs/design.md: usage errors exit 2 with one line,
 * an unreachable broker exits 3, anything else that escapes exits 1.
 */
public final class Cli {
  /** The system property naming the file that says a run did its work ({@link #workDone}). */
  static final String TRAINED = "conveyor.aot.trained";

  private Cli() {}

  /**
   * Adds {@code -h, --help} and {@code -V, --version}, as picocli's {@code
   * mixinStandardHelpOptions} does, but built in code: picocli builds its standard mixin from
   * annotations, whose proxies the JVM generates at every start and no class-data archive keeps, on
   * the way of every {@code worker} and {@code control} to its work (docs/benchmarks.md). Call it
   * after the command's other options when they are listed unsorted: help and version come last.
   */
  public static CommandSpec standardHelpOptions(CommandSpec spec) {
    spec.addOption(
        OptionSpec.builder("-h", "--help")
            .usageHelp(true)
            .description("Show this help message and exit.")
            .build());
    spec.addOption(
        OptionSpec.builder("-V", "--version")
            .versionHelp(true)
            .description("Print version information and exit.")
            .build());
    return spec;
  }

  public static CommandLine commandLine(Object command) {
    CommandLine cl = new CommandLine(command);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setParameterExceptionHandler(
        (ex, args) -> {
          PrintWriter err = ex.getCommandLine().getErr();
          err.println(ex.getCommandLine().getCommandSpec().root().name() + ": " + ex.getMessage());
          err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
          return ExitCodes.USAGE;
        });
    cl.setExecutionExceptionHandler(
        (ex, commandLine, parseResult) -> {
          PrintWriter err = commandLine.getErr();
          String name = commandLine.getCommandSpec().root().name();
          return switch (ex) {
            case BrokerUnreachableException b -> {
              err.println(name + ": " + b.getMessage());
              yield ExitCodes.BROKER_UNREACHABLE;
            }
            case UsageException u -> {
              err.println(name + ": " + u.getMessage());
              yield ExitCodes.USAGE;
            }
            case IllegalArgumentException i -> {
              err.println(name + ": " + i.getMessage());
              yield ExitCodes.USAGE;
            }
            default -> {
              err.println(
                  name
                      + ": "
                      + BrokerErrors.refusal(ex)
                          .map(reason -> "the broker refused: " + reason)
                          .orElse(ex.toString()));
              yield ExitCodes.FAILURE;
            }
          };
        });
    return cl;
  }

  /** Runs and exits the JVM with the command's code. */
  public static void main(Object command, String[] args) {
    exit(commandLine(command), args);
  }

  /**
   * Runs the command line, flushes its writers (a buffered one too) and exits the JVM with its
   * code, after noting for the launcher a run that did its work ({@link #workDone}).
   */
  public static void exit(CommandLine commandLine, String[] args) {
    int code = commandLine.execute(args);
    commandLine.getOut().flush();
    commandLine.getErr().flush();
    if (code == ExitCodes.OK && !onlyHelp(commandLine.getParseResult())) {
      workDone();
    }
    System.exit(code);
  }

  /**
   * Tells the launcher that this run did the program's work: {@code bin/lib/common.sh} records a
   * first run's classes for the ahead-of-time cache and passes the file to create as {@value
   * #TRAINED}; a record of a run that printed only its help, or failed, is made again rather than
   * built into a cache that holds little of what the program runs. {@link #exit} calls it for a
   * command that succeeded; a program that runs until it is stopped calls it once it serves, since
   * a signal ends it through the JVM's shutdown rather than through {@link #exit}.
   */
  public static void workDone() {
    String marker = System.getProperty(TRAINED);
    if (marker == null) {
      return;
    }
    try {
      Files.createFile(Path.of(marker));
    } catch (IOException | RuntimeException e) {
      // Made already, or the lock directory is gone: the record is then someone else's.
    }
  }

  /** Whether the arguments asked for help or the version, of the program or a subcommand. */
  static boolean onlyHelp(CommandLine.ParseResult parsed) {
    for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
      if (p.isUsageHelpRequested()
          || p.isVersionHelpRequested()
          || p.commandSpec().userObject() instanceof CommandLine.HelpCommand) {
        return true;
      }
    }
    return false;
  }
}
