package dev.conveyor.control;

import dev.conveyor.control.BroadcastOptions.Flags;
import picocli.CommandLine.Model.OptionSpec;

/** What {@code stop} and {@code kill} share: a target group and {@code --requeue}. */
abstract class EndTasksCommand extends BroadcastCommand {

  private final OptionSpec requeue =
      Flags.flag("--requeue")
          .description("Put the ended tasks back in their queue instead of cancelling them.")
          .build();

  EndTasksCommand(String name, String... description) {
    super(name, description);
    spec.addOption(requeue);
  }

  @Override
  boolean requeue() {
    return Flags.isSet(requeue);
  }
}
