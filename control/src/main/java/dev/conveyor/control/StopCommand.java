package dev.conveyor.control;

import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;

/** {@code control stop}: cooperative cancellation of running tasks, revocation of queued ones. */
final class StopCommand extends EndTasksCommand {

  private final Targets targets = Targets.ofStop(spec);

  StopCommand() {
    super(
        "stop",
        "Asks tasks to stop (cooperative: the task's cancellation token is set).",
        "Waits until every matching task has settled and prints what happened per worker.",
        "A named task that is not running is revoked: cancelled when it arrives (for 25 h).");
  }

  @Override
  Command verb() {
    return Command.STOP;
  }

  @Override
  Target target() {
    return targets.target();
  }
}
