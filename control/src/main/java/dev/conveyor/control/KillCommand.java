package dev.conveyor.control;

import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;

/** {@code control kill}: forced termination of running tasks, revocation of queued ones. */
final class KillCommand extends EndTasksCommand {

  private final Targets targets = Targets.ofKill(spec);

  KillCommand() {
    super(
        "kill",
        "Kills tasks (forced, no cleanup).",
        "Child processes get SIGKILL, threads are interrupted; a worker whose task still does not"
            + " end settles its other tasks and exits with code 70.",
        "Waits until every matching task has settled and prints what happened per worker.",
        "A named task that is not running is revoked: cancelled when it arrives (for 25 h).");
  }

  @Override
  Command verb() {
    return Command.KILL;
  }

  @Override
  Target target() {
    return targets.target();
  }
}
