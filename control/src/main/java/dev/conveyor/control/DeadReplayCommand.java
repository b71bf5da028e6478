package dev.conveyor.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.conveyor.control.ControlSession.Need;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
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
      "Publishes dead letters back to the task queue they came from, without the headers that",
      "count their attempts, so they run again with fresh attempts. A dead copy is removed only",
      "after the broker confirmed its replay."
    })
final class DeadReplayCommand implements Callable<Integer> {

  @Mixin BrokerOptions broker;

  @ArgGroup(exclusive = true, multiplicity = "1", heading = "Selection (exactly one):%n")
  DeadSelection selection;

  @Option(names = "--json", description = "Print one JSON document.")
  boolean json;

  @Spec CommandSpec spec;

  record Replayed(String id, String queue) {}

  record Skipped(String id, String reason) {}

  record Result(List<Replayed> replayed, List<Skipped> skipped, List<String> notFound) {}

  @Override
  public Integer call() throws Exception {
    Set<String> ids = selection.ids();
    Result result;
    try (ControlSession session =
            ControlSession.openExisting(
                broker, "dead replay", List.of(Need.queue(broker.settings().names().deadQueue())));
        Channel ch = session.connection().createChannel()) {
      ch.confirmSelect();
      List<DeadLetter> all = DeadQueue.takeAll(ch, session.names());
      List<DeadLetter> letters = DeadQueue.select(all, selection.all, ids);
      List<DeadLetter> published = new ArrayList<>();
      List<Skipped> skipped = new ArrayList<>();
      Set<String> ready = new HashSet<>();
      for (DeadLetter d : letters) {
        String problem = originProblem(d.origin());
        if (problem == null && ready.add(d.origin())) {
          ensureQueue(session.connection(), session.topology(), d.origin());
        }
        if (problem != null) {
          skipped.add(new Skipped(d.id(), problem));
          continue;
        }
        ch.basicPublish(
            session.names().tasksExchange(),
            d.origin(),
            fresh(d.message().getProps()),
            d.message().getBody());
        published.add(d);
      }
      // The others stay as they were, in their order (see DeadQueue).
      List<DeadLetter> kept = DeadQueue.except(all, published);
      DeadQueue.putBack(ch, session.names(), kept);
      List<DeadLetter> originals = new ArrayList<>(published);
      originals.addAll(kept);
      DeadQueue.confirmAndAck(ch, originals);
      result =
          new Result(
              published.stream().map(d -> new Replayed(d.id(), d.origin())).toList(),
              skipped,
              DeadQueue.missing(ids, letters));
    }
    print(result);
    return result.skipped().isEmpty() && result.notFound().isEmpty()
        ? ExitCodes.OK
        : ExitCodes.FAILURE;
  }

  private static String originProblem(String origin) {
    if (origin == null) {
      return "no origin queue in its headers";
    }
    try {
      Names.checkQueueName(origin);
      return null;
    } catch (IllegalArgumentException e) {
      return "invalid origin queue '" + origin + "'";
    }
  }

  /** Declares the task queue unless it exists already (its arguments are then left alone). */
  private static void ensureQueue(Connection connection, Topology topology, String queue)
      throws IOException, TimeoutException {
    try (Channel probe = connection.createChannel()) {
      probe.queueDeclarePassive(topology.names().taskQueue(queue));
      return;
    } catch (IOException | com.rabbitmq.client.AlreadyClosedException e) {
      // Not there (the failed passive declare closed the probe channel): declare it below.
    }
    try (Channel ch = connection.createChannel()) {
      topology.declareTaskQueue(ch, queue);
    }
  }

  /** The original properties without the headers that record its previous life. */
  static AMQP.BasicProperties fresh(AMQP.BasicProperties props) {
    Map<String, Object> headers = new HashMap<>();
    if (props.getHeaders() != null) {
      props
          .getHeaders()
          .forEach(
              (k, v) -> {
                if (!isHistory(k)) {
                  headers.put(k, v);
                }
              });
    }
    return props.builder().headers(headers).deliveryMode(2).expiration(null).build();
  }

  static boolean isHistory(String header) {
    return header.startsWith(Headers.PREFIX) || Headers.isBrokerBookkeeping(header);
  }

  private void print(Result result) {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (json) {
      out.println(Wire.toJson(result));
    } else {
      for (Replayed r : result.replayed()) {
        out.println(r.id() + " -> " + r.queue());
      }
      out.println("replayed " + result.replayed().size() + " message(s)");
    }
    for (Skipped s : result.skipped()) {
      err.println("control dead replay: " + s.id() + " not replayed: " + s.reason());
    }
    for (String id : result.notFound()) {
      err.println("control dead replay: " + id + " is not in the dead-letter queue");
    }
    out.flush();
    err.flush();
  }
}
