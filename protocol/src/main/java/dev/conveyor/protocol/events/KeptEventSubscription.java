package dev.conveyor.protocol.events;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.broker.KeptConsumer;
import dev.conveyor.protocol.broker.KeptQueueName;
import dev.conveyor.protocol.topology.Topology;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A subscription to {@code ns.events} that is made again whenever the broker takes it away, on one
 * of two kinds of queue:
 *
 * <ul>
 *   <li>a named queue that outlives this client's connection by {@code keptFor} ({@link #open}):
 *       events published while the client reconnects wait there for it, where a private queue would
 *       have gone with the connection. The broker deletes it once unused for that long; {@link
 *       #close} deletes it at once.
 *   <li>a private queue ({@link #openPrivate}), gone with the connection, for a reader that follows
 *       events as they come (whatever is published while it is away is missed).
 * </ul>
 *
 * <p>amqp-client's recovery declares the queue again after a lost connection, but gives up when the
 * broker refuses: while the cluster node a named queue lives on is down, the broker answers the
 * declaration with 404 and closes the channel (the subscription then moves to a queue of another
 * name, {@link KeptQueueName}). Nor does anything declare again a queue deleted while it was
 * consumed: the broker cancels the consumer, and a reader would go silent for good. Either way this
 * subscription subscribes again on a new channel, at once and then every {@link #RETRY} until the
 * broker accepts ({@link KeptConsumer}).
 */
public final class KeptEventSubscription implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KeptEventSubscription.class);

  /** How long a subscription the broker refused waits before it tries again. */
  static final Duration RETRY = Duration.ofSeconds(1);

  private final Topology topology;
  private final boolean declare;
  private final KeptQueueName queue; // null: a private queue, named by the broker each time
  private final Duration keptFor;
  private final List<String> bindingKeys;
  private final Notices notices;

  private final KeptConsumer consumer;

  /** Where a subscription tells of its loss and of its return, one line each. */
  public interface Notices {
    /** The subscription was lost, or the first of a run of tries to make it again failed. */
    void lost(String line);

    /** The subscription is made again. */
    void back(String line);

    /**
     * Both to {@code say}, a return with what the gap cost, as {@link
     * dev.conveyor.protocol.broker.Reconnections#report} tells of a reconnection.
     */
    static Notices telling(Consumer<String> say, String missedMeanwhile) {
      return new Notices() {
        @Override
        public void lost(String line) {
          say.accept(line);
        }

        @Override
        public void back(String line) {
          say.accept(line + "; " + missedMeanwhile);
        }
      };
    }

    /** A warning and an info line on this class's logger. */
    static Notices logged() {
      return new Notices() {
        @Override
        public void lost(String line) {
          log.warn(line);
        }

        @Override
        public void back(String line) {
          log.info(line);
        }
      };
    }
  }

  private KeptEventSubscription(
      Connection connection,
      Topology topology,
      boolean declare,
      String queue,
      Duration keptFor,
      List<String> bindingKeys,
      Consumer<Event> listener,
      ScheduledExecutorService reopener,
      Notices notices)
      throws IOException {
    this.topology = topology;
    this.declare = declare;
    this.queue = queue == null ? null : new KeptQueueName(connection, queue);
    this.keptFor = keptFor;
    this.bindingKeys = List.copyOf(bindingKeys);
    this.notices = notices;
    BiConsumer<String, byte[]> decode = EventSubscription.decoding(listener);
    // Last: it declares through this, whose fields are all set.
    this.consumer =
        KeptConsumer.start(
            connection,
            this.queue == null ? this::declare : this.queue.declaration(this::declare),
            (envelope, props, body) -> decode.accept(envelope.getRoutingKey(), body),
            reopener,
            RETRY,
            new Told());
  }

  /**
   * @param queue a name of this client's own in the namespace, e.g. {@link
   *     dev.conveyor.protocol.topology.Names#requeuedFor}
   * @param bindingKeys topic patterns such as {@code task.requeued}
   * @param listener called on the connection's consumer thread, in broker order
   * @param reopener where the subscription is made again once lost (not a thread that must be
   *     punctual: it waits for the broker)
   * @throws IOException when the broker refuses the first subscription
   */
  public static KeptEventSubscription open(
      Connection connection,
      Topology topology,
      String queue,
      Duration keptFor,
      List<String> bindingKeys,
      Consumer<Event> listener,
      ScheduledExecutorService reopener)
      throws IOException {
    return new KeptEventSubscription(
        connection,
        topology,
        true,
        queue,
        keptFor,
        bindingKeys,
        listener,
        reopener,
        Notices.logged());
  }

  /**
   * A subscription on a private queue, which goes with the connection (amqp-client's recovery
   * declares a new one after a reconnection).
   *
   * @param declare whether to declare the namespace's exchanges; without, binding fails where the
   *     events exchange is missing: for a reader that checked that the namespace exists and must
   *     not create one that a typo named
   * @param listener called on the connection's consumer thread, in broker order
   * @param reopener where the subscription is made again once lost
   * @param notices told when it is lost and when it is back
   * @throws IOException when the broker refuses the first subscription
   */
  public static KeptEventSubscription openPrivate(
      Connection connection,
      Topology topology,
      boolean declare,
      List<String> bindingKeys,
      Consumer<Event> listener,
      ScheduledExecutorService reopener,
      Notices notices)
      throws IOException {
    return new KeptEventSubscription(
        connection, topology, declare, null, null, bindingKeys, listener, reopener, notices);
  }

  /** Declares and binds the queue; the exchanges too where asked. */
  private String declare(Channel ch, boolean again) throws IOException {
    return declare(ch, again, null);
  }

  /**
   * @param name the named queue's name now (it moves when its own cannot be declared); null for a
   *     private queue
   */
  private String declare(Channel ch, boolean again, String name) throws IOException {
    if (declare) {
      topology.declareCore(ch);
    }
    String consumed =
        name != null
            ? topology.declareKept(ch, name, keptFor)
            : ch.queueDeclare("", false, true, true, null).getQueue();
    for (String key : bindingKeys) {
      ch.queueBind(consumed, topology.names().eventsExchange(), key);
    }
    return consumed;
  }

  /** What the subscription is to, for the notices: the queue's name, or the events exchange. */
  private String what() {
    return queue != null ? queue.name() : topology.names().eventsExchange();
  }

  /** The consumer's notices, worded for a subscription. */
  private final class Told implements KeptConsumer.Notices {
    @Override
    public void lost(String why) {
      notices.lost("lost the subscription to " + what() + ": " + why + "; subscribing again");
    }

    @Override
    public void refused(String reason) {
      notices.lost(
          "could not subscribe to "
              + what()
              + " again: "
              + reason
              + "; trying every "
              + RETRY.toSeconds()
              + " s");
    }

    @Override
    public void back(int refusals) {
      notices.back(
          "subscribed to "
              + what()
              + " again"
              + (refusals == 0 ? "" : " after " + (refusals + 1) + " tries"));
    }
  }

  /**
   * Makes a named queue again, so that only this client consumes it ({@link
   * KeptConsumer#consumeAlone}): for when the broker still holds a connection this client lost,
   * which would take its turn at the events. A private queue went with that connection.
   */
  public void consumeAlone() {
    if (queue != null) {
      consumer.consumeAlone(queue.name());
    }
  }

  /** Whether the queue is consumed now; false while the subscription is being made again. */
  public boolean subscribed() {
    return consumer.consuming();
  }

  /**
   * Deletes a named queue, as nobody will come back for it, and closes the channel (a private queue
   * goes with its consumer).
   */
  @Override
  public void close() {
    consumer.close(
        ch -> {
          if (queue != null) {
            ch.queueDelete(queue.name());
          }
        });
  }
}
