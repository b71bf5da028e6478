package dev.conveyor.control;

import dev.conveyor.protocol.wire.Command;

/** {@code control pause}: workers stop taking new tasks; running ones go on. */
final class PauseCommand extends PauseResumeCommand {
  PauseCommand() {
    super(
        "pause",
        "Makes workers stop taking new tasks; running tasks go on.",
        "Waits for every worker to acknowledge and prints who is paused now.");
  }

  @Override
  Command verb() {
    return Command.PAUSE;
  }
}
