package dev.conveyor.control;

import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.cli.Cli;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The {@code control} program: one subcommand per operator action (README.md). */
@Command(
    name = "control",
    mixinStandardHelpOptions = true,
    version = "conveyor control 0.1.0",
    description =
        "Stops, kills, pauses and inspects Conveyor workers; follows events; manages dead letters.",
    subcommands = {
      StopCommand.class,
      KillCommand.class,
      PauseCommand.class,
      ResumeCommand.class,
      StatusCommand.class,
      WatchCommand.class,
      DeadCommand.class,
      CommandLine.HelpCommand.class
    },
    footer = {
      "",
      "Exit codes: 0 ok, 1 the operation reported a failure, 2 usage error, 3 broker unreachable."
    })
public final class ControlMain implements Runnable {

  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "missing subcommand");
  }

  /** The command line with Conveyor's exit-code mapping, for {@link #main} and for tests. */
  public static CommandLine commandLine() {
    CommandLine cl = Cli.commandLine(new ControlMain());
    CommandLine.IExecutionExceptionHandler standard = cl.getExecutionExceptionHandler();
    cl.setExecutionExceptionHandler(
        (ex, commandLine, parseResult) -> {
          if (ex instanceof NamespaceMissingException missing) {
            commandLine.getErr().println("control: " + missing.getMessage());
            commandLine.getErr().flush();
            return ExitCodes.FAILURE;
          }
          return standard.handleExecutionException(ex, commandLine, parseResult);
        });
    return cl;
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }
}
