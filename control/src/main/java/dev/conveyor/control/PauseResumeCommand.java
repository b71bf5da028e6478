package dev.conveyor.control;

import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** What {@code pause} and {@code resume} share: broadcast, wait, print who is paused now. */
abstract class PauseResumeCommand implements Callable<Integer> {

  @Mixin BrokerOptions broker;

  @Mixin BroadcastOptions options;

  @Option(
      names = "--worker",
      arity = "1..*",
      paramLabel = "NAME",
      description = "Only these workers (default: all).")
  List<String> workers;

  @Spec CommandSpec spec;

  abstract Command verb();

  @Override
  public Integer call() throws Exception {
    options.validate();
    Target target =
        workers == null ? Target.all() : new Target.Workers(Targets.nonBlank("--worker", workers));
    Prepared message = Prepared.start(() -> ControlMessages.create(verb(), target, false));
    try (ControlSession session = ControlSession.open(broker, verb().wire())) {
      return Broadcast.run(session, message.await(), options)
          .emit(spec.commandLine(), options.json);
    }
  }
}
