package dev.conveyor.control;

import dev.conveyor.control.BroadcastOptions.Flags;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * What {@code pause} and {@code resume} share: broadcast, wait, print who is paused now. Flags
 * built in code, as {@link EndTasksCommand}'s.
 */
abstract class PauseResumeCommand implements Callable<Integer> {

  final CommandSpec spec = CommandSpec.wrapWithoutInspection(this);

  private final Supplier<BrokerSettings> broker = BrokerOptions.addTo(spec);

  final BroadcastOptions options = new BroadcastOptions(spec);

  private final OptionSpec workers =
      Flags.names("--worker", "NAME").description("Only these workers (default: all).").build();

  PauseResumeCommand(String name, String... description) {
    spec.addOption(workers);
    spec.name(name).mixinStandardHelpOptions(true);
    spec.usageMessage().description(description);
  }

  abstract Command verb();

  @Override
  public Integer call() throws Exception {
    options.validate();
    List<String> named = workers.getValue();
    Target target =
        named == null ? Target.all() : new Target.Workers(Targets.nonBlank("--worker", named));
    Prepared message = Prepared.start(() -> ControlMessages.create(verb(), target, false));
    try (ControlSession session = ControlSession.open(broker.get(), verb().wire())) {
      return Broadcast.run(session, message.await(), options)
          .emit(spec.commandLine(), options.json());
    }
  }
}
