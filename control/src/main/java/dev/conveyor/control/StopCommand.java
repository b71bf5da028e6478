package dev.conveyor.control;

import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import picocli.CommandLine.ArgGroup;

/** {@code control stop}: cooperative cancellation of running tasks, revocation of queued ones. */
@picocli.CommandLine.Command(
    name = "stop",
    mixinStandardHelpOptions = true,
    description = {
      "Asks tasks to stop (cooperative: the task's cancellation token is set).",
      "Waits until every matching task has settled and prints what happened per worker.",
      "A named task that is not running is revoked: cancelled when it arrives (for 25 h)."
    })
final class StopCommand extends EndTasksCommand {

  @ArgGroup(exclusive = true, multiplicity = "1", heading = "Target (exactly one):%n")
  Targets.StopTargets targets;

  @Override
  Command verb() {
    return Command.STOP;
  }

  @Override
  Target target() {
    return targets.target();
  }
}
