package dev.conveyor.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.cli.Cli;
import java.io.IOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The {@code control} program: one subcommand per operator action (SPEC §6). */
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
    CommandLine commandLine = Cli.commandLine(new ControlMain());
    IExecutionExceptionHandler handler = commandLine.getExecutionExceptionHandler();
    commandLine.setExecutionExceptionHandler(
        (ex, cl, parsed) -> handler.handleExecutionException(explain(ex), cl, parsed));
    return commandLine;
  }

  /**
   * The client reports a broker refusal (a missing queue, a declaration that conflicts) as an
   * {@code IOException} without a message; name the broker's reason instead.
   */
  static Exception explain(Exception ex) {
    Throwable cause = ex;
    while (cause != null && !(cause instanceof ShutdownSignalException)) {
      cause = cause.getCause();
    }
    if (!(cause instanceof ShutdownSignalException signal)) {
      return ex;
    }
    String reason =
        switch (signal.getReason()) {
          case AMQP.Channel.Close close -> close.getReplyText();
          case AMQP.Connection.Close close -> close.getReplyText();
          case null, default -> signal.getMessage();
        };
    return new IOException("the broker refused: " + reason, ex);
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }
}
