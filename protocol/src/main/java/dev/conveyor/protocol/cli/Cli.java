package dev.conveyor.protocol.cli;

import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * Runs a picocli command with the exit codes in docs/design.md: usage errors exit 2 with one line,
 * an unreachable broker exits 3, anything else that escapes exits 1.
 */
public final class Cli {
  private Cli() {}

  public static CommandLine commandLine(Object command) {
    CommandLine cl = new CommandLine(command);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setParameterExceptionHandler(
        (ex, args) -> {
          PrintWriter err = ex.getCommandLine().getErr();
          err.println(ex.getCommandLine().getCommandName() + ": " + ex.getMessage());
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
    System.exit(commandLine(command).execute(args));
  }
}
