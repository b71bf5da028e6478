package dev.conveyor.control.dead;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Headers;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;

/**
 * Lists, replays and purges the dead-letter queue {@code ns.dead}: what {@code control dead} and
 * the dashboard both do, on a connection the caller owns. Each operation uses a channel of its own
 * in confirm mode and reads the queue as {@link DeadQueue} describes: every letter is read and
 * held, and what stays is put back in its order before the originals are acknowledged. Two
 * operations on the same queue at once get in each other's way (the second sees fewer letters), so
 * callers that may run them concurrently serialise them.
 */
public final class DeadLetters {
  private DeadLetters() {}

  /**
   * What a listing read.
   *
   * @param letters every letter that was in the queue, in queue order
   * @param problem null when the letters were put back unchanged; else why not (they then went back
   *     as read, which the broker counts as a delivery)
   */
  public record Listing(List<DeadLetter> letters, String problem) {}

  /** A letter published back to its task queue. */
  public record Replayed(String id, String queue) {}

  /** A letter that was selected but kept in the dead-letter queue, and why. */
  public record Skipped(String id, String reason) {}

  /** The outcome of a replay; {@code notFound} are ids asked for that were not there. */
  public record ReplayResult(
      List<Replayed> replayed, List<Skipped> skipped, List<String> notFound) {}

  /** The outcome of a purge; {@code notFound} are ids asked for that were not there. */
  public record PurgeResult(long purged, List<String> notFound) {}

  /** Every letter in the queue, leaving each where and as it was. */
  public static Listing list(Connection connection, Names names)
      throws IOException, InterruptedException {
    try (Channel ch = open(connection)) {
      ch.confirmSelect();
      List<DeadLetter> letters = DeadQueue.takeAll(ch, names);
      String problem = null;
      try {
        DeadQueue.putBack(ch, names, letters);
        DeadQueue.confirmAndAck(ch, letters);
      } catch (IOException | RuntimeException e) {
        problem = BrokerErrors.reason(e);
      }
      return new Listing(letters, problem);
    } catch (TimeoutException e) {
      throw new IOException("timed out closing a channel", e);
    }
  }

  /**
   * Publishes the selected letters back to the task queue they came from, without the headers that
   * count their attempts, so they run again with fresh attempts; declares that task queue when it
   * is missing. A dead copy is removed only after the broker confirmed its replay; letters without
   * a usable origin queue are skipped and kept.
   *
   * @param all every letter, else those whose {@link DeadLetter#id} is in {@code ids}
   */
  public static ReplayResult replay(
      Connection connection, Topology topology, boolean all, Set<String> ids)
      throws IOException, InterruptedException {
    Names names = topology.names();
    try (Channel ch = open(connection)) {
      ch.confirmSelect();
      List<DeadLetter> every = DeadQueue.takeAll(ch, names);
      List<DeadLetter> letters = DeadQueue.select(every, all, ids);
      List<DeadLetter> published = new ArrayList<>();
      List<Skipped> skipped = new ArrayList<>();
      Set<String> ready = new HashSet<>();
      for (DeadLetter d : letters) {
        String problem = originProblem(d.origin());
        if (problem == null && ready.add(d.origin())) {
          ensureQueue(connection, topology, d.origin());
        }
        if (problem != null) {
          skipped.add(new Skipped(d.id(), problem));
          continue;
        }
        ch.basicPublish(
            names.tasksExchange(),
            d.origin(),
            fresh(d.message().getProps()),
            d.message().getBody());
        published.add(d);
      }
      // The others stay as they were, in their order (see DeadQueue).
      List<DeadLetter> kept = DeadQueue.except(every, published);
      DeadQueue.putBack(ch, names, kept);
      List<DeadLetter> originals = new ArrayList<>(published);
      originals.addAll(kept);
      DeadQueue.confirmAndAck(ch, originals);
      return new ReplayResult(
          published.stream().map(d -> new Replayed(d.id(), d.origin())).toList(),
          skipped,
          DeadQueue.missing(ids, letters));
    } catch (TimeoutException e) {
      throw new IOException("timed out closing a channel", e);
    }
  }

  /**
   * Deletes letters for good: all of them (a queue purge), or those whose {@link DeadLetter#id} is
   * in {@code ids}, leaving the others as they were.
   */
  public static PurgeResult purge(Connection connection, Names names, boolean all, Set<String> ids)
      throws IOException, InterruptedException {
    try (Channel ch = open(connection)) {
      if (all) {
        return new PurgeResult(ch.queuePurge(names.deadQueue()).getMessageCount(), List.of());
      }
      ch.confirmSelect();
      List<DeadLetter> every = DeadQueue.takeAll(ch, names);
      List<DeadLetter> letters = DeadQueue.select(every, false, ids);
      // The others stay as they were, in their order (see DeadQueue); every original is acked
      // once the copies of those are confirmed.
      DeadQueue.putBack(ch, names, DeadQueue.except(every, letters));
      DeadQueue.confirmAndAck(ch, every);
      return new PurgeResult(letters.size(), DeadQueue.missing(ids, letters));
    } catch (TimeoutException e) {
      throw new IOException("timed out closing a channel", e);
    }
  }

  private static Channel open(Connection connection) throws IOException {
    Channel ch = connection.createChannel();
    if (ch == null) {
      throw new IOException("the broker connection has no channel left");
    }
    return ch;
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
    } catch (IOException | AlreadyClosedException e) {
      // Not there (the failed passive declare closed the probe channel): declare it below.
    }
    try (Channel ch = connection.createChannel()) {
      topology.declareTaskQueue(ch, queue);
    }
  }

  /** The original properties without the headers that record its previous life. */
  public static AMQP.BasicProperties fresh(AMQP.BasicProperties props) {
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

  /** Whether a header records a previous life of the task (ours, or the broker's bookkeeping). */
  public static boolean isHistory(String header) {
    return header.startsWith(Headers.PREFIX) || Headers.isBrokerBookkeeping(header);
  }
}
