package dev.conveyor.control;

import dev.conveyor.protocol.wire.Command;

/** {@code control resume}: paused workers take tasks again. */
@picocli.CommandLine.Command(
    name = "resume",
    mixinStandardHelpOptions = true,
    description = {
      "Makes paused workers take tasks again.",
      "Waits for every worker to acknowledge and prints who is paused now."
    })
final class ResumeCommand extends PauseResumeCommand {
  @Override
  Command verb() {
    return Command.RESUME;
  }
}
