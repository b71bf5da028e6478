package dev.conveyor.control;

import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.cli.Cli;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Model.CommandSpec;

/**
 * What {@code stop}, {@code kill}, {@code pause} and {@code resume} share: publish the command at
 * once, wait for the workers' answers, report.
 *
 * <p>These commands build their flags with picocli's programmatic API rather than annotations:
 * reading annotations costs reflection and annotation proxies that no cache keeps, and a {@code
 * stop} should go out as soon after its launch as it can (docs/benchmarks.md).
 */
abstract class BroadcastCommand implements Callable<Integer> {

  final CommandSpec spec = CommandSpec.wrapWithoutInspection(this);

  private final Supplier<BrokerSettings> broker = BrokerOptions.addTo(spec);

  final BroadcastOptions options = new BroadcastOptions(spec);

  BroadcastCommand(String name, String... description) {
    Cli.standardHelpOptions(spec.name(name));
    spec.usageMessage().description(description);
  }

  abstract Command verb();

  /** Whom the command addresses, from its flags. */
  abstract Target target();

  /** Whether ended tasks go back to their queue ({@code --requeue} of stop and kill). */
  boolean requeue() {
    return false;
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
