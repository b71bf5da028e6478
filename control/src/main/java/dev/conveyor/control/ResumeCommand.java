package dev.conveyor.control;

import dev.conveyor.protocol.wire.Command;

/** {@code control resume}: paused workers take tasks again. */
final class ResumeCommand extends PauseResumeCommand {
  ResumeCommand() {
    super(
        "resume",
        "Makes paused workers take tasks again.",
        "Waits for every worker to acknowledge and prints who is paused now.");
  }

  @Override
  Command verb() {
    return Command.RESUME;
  }
}
