package dev.conveyor.control;

import dev.conveyor.control.BroadcastOptions.Flags;
import dev.conveyor.protocol.wire.Target;
import java.util.List;
import picocli.CommandLine.Model.OptionSpec;

/** What {@code pause} and {@code resume} share: every worker, or those named. */
abstract class PauseResumeCommand extends BroadcastCommand {

  private final OptionSpec workers =
      Flags.names("--worker", "NAME").description("Only these workers (default: all).").build();

  PauseResumeCommand(String name, String... description) {
    super(name, description);
    spec.addOption(workers);
  }

  @Override
  Target target() {
    List<String> named = workers.getValue();
    return named == null ? Target.all() : new Target.Workers(Targets.nonBlank("--worker", named));
  }
}
