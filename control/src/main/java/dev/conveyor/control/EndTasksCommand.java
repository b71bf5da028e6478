package dev.conveyor.control;

import dev.conveyor.control.BroadcastOptions.Flags;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * What {@code stop} and {@code kill} share: broadcast, wait for settlement, report per worker.
 *
 * <p>The commands that act on workers build their flags with picocli's programmatic API rather than
 * annotations: reading annotations costs reflection and annotation proxies that no cache keeps, and
 * a {@code stop} should go out as soon after its launch as it can (docs/benchmarks.md).
 */
abstract class EndTasksCommand implements Callable<Integer> {

  final CommandSpec spec = CommandSpec.wrapWithoutInspection(this);

  private final Supplier<BrokerSettings> broker = BrokerOptions.addTo(spec);

  final BroadcastOptions options = new BroadcastOptions(spec);

  private final OptionSpec requeue =
      Flags.flag("--requeue")
          .description("Put the ended tasks back in their queue instead of cancelling them.")
          .build();

  EndTasksCommand(String name, String... description) {
    spec.addOption(requeue);
    spec.name(name).mixinStandardHelpOptions(true);
    spec.usageMessage().description(description);
  }

  abstract Command verb();

  abstract Target target();

  boolean requeue() {
    return Flags.isSet(requeue);
  }

  @Override
  public Integer call() throws Exception {
    options.validate();
    Target target = target();
    boolean back = requeue();
    Prepared message = Prepared.start(() -> ControlMessages.create(verb(), target, back));
    try (ControlSession session = ControlSession.open(broker.get(), verb().wire())) {
      return Broadcast.run(session, message.await(), options)
          .emit(spec.commandLine(), options.json());
    }
  }
}
