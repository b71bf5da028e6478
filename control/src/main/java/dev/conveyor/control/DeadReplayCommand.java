package dev.conveyor.control;

import com.rabbitmq.client.AMQP;
import dev.conveyor.control.ControlSession.Need;
import dev.conveyor.control.dead.DeadLetters;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.wire.Wire;
import java.io.PrintWriter;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code control dead replay}: sends dead letters back to their queue for fresh attempts. */
@Command(
    name = "replay",
    mixinStandardHelpOptions = true,
    description = {
      "Publishes dead letters back to the task queue they came from, without the headers that"
          + " count their attempts, so they run again with fresh attempts.",
      "A dead copy is removed only after the broker confirmed its replay."
    })
final class DeadReplayCommand implements Callable<Integer> {

  @Mixin BrokerOptions broker;

  @ArgGroup(exclusive = true, multiplicity = "1", heading = "Selection (exactly one):%n")
  DeadSelection selection;

  @Option(names = "--json", description = "Print one JSON document.")
  boolean json;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Set<String> ids = selection.ids();
    DeadLetters.ReplayResult result;
    try (ControlSession session =
        ControlSession.openExisting(
            broker, "dead replay", List.of(Need.queue(broker.settings().names().deadQueue())))) {
      result = DeadLetters.replay(session.connection(), session.topology(), selection.all, ids);
    }
    print(result);
    return result.skipped().isEmpty() && result.notFound().isEmpty()
        ? ExitCodes.OK
        : ExitCodes.FAILURE;
  }

  /** The original properties without the headers that record its previous life. */
  static AMQP.BasicProperties fresh(AMQP.BasicProperties props) {
    return DeadLetters.fresh(props);
  }

  static boolean isHistory(String header) {
    return DeadLetters.isHistory(header);
  }

  private void print(DeadLetters.ReplayResult result) {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (json) {
      out.println(Wire.toJson(result));
    } else {
      for (DeadLetters.Replayed r : result.replayed()) {
        out.println(named(r.id()) + " -> " + r.queue());
      }
      out.println("replayed " + result.replayed().size() + " message(s)");
    }
    for (DeadLetters.Skipped s : result.skipped()) {
      err.println("control dead replay: " + named(s.id()) + " not replayed: " + s.reason());
    }
    for (String id : result.notFound()) {
      err.println("control dead replay: " + id + " is not in the dead-letter queue");
    }
    out.flush();
    err.flush();
  }

  /** A letter's id, or that it has none (neither the body nor the properties give one). */
  private static String named(String id) {
    return id == null ? "a letter without an id" : id;
  }
}
