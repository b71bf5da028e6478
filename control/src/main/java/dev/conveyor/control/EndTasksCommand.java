package dev.conveyor.control;

import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** What {@code stop} and {@code kill} share: broadcast, wait for settlement, report per worker. */
abstract class EndTasksCommand implements Callable<Integer> {

  @Mixin BrokerOptions broker;

  @Mixin BroadcastOptions options;

  @Option(
      names = "--requeue",
      description = "Put the ended tasks back in their queue instead of cancelling them.")
  boolean requeue;

  @Spec CommandSpec spec;

  abstract Command verb();

  abstract Target target();

  @Override
  public Integer call() throws Exception {
    options.validate();
    Target target = target();
    Prepared message = Prepared.start(() -> ControlMessages.create(verb(), target, requeue));
    try (ControlSession session = ControlSession.open(broker, verb().wire())) {
      return Broadcast.run(session, message.await(), options)
          .emit(spec.commandLine(), options.json);
    }
  }
}
