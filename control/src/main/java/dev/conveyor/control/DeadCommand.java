package dev.conveyor.control;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code control dead}: the dead-letter queue. */
@Command(
    name = "dead",
    mixinStandardHelpOptions = true,
    description = "Lists, replays or purges the dead-letter queue.",
    subcommands = {DeadListCommand.class, DeadReplayCommand.class, DeadPurgeCommand.class})
final class DeadCommand implements Runnable {

  @Spec CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "missing subcommand: list, replay or purge");
  }
}
