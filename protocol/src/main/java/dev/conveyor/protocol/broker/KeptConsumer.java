package dev.conveyor.protocol.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A consumer (no-ack) on a channel of its own that is made again whenever the broker ends it: when
 * it cancels the consumer (the queue was deleted, or went with the node that held it) or closes its
 * channel (a declaration or binding refused, amqp-client's own after a reconnection among them).
 * amqp-client's recovery brings a consumer back after a lost connection, but gives up when the
 * broker refuses, and nothing brings back a cancelled one.
 *
 * <p>It is made again on a new channel, declared again, at once and then every {@code retryEvery}
 * until the broker accepts. The lost channel and consumer are made forgotten by amqp-client first
 * ({@link Channels#forgetConsumer}, {@link Channels#closeOrForget}): its next recovery would
 * otherwise consume again beside the replacement, or open the dead channel again, idle. A lost
 * connection is left to that recovery.
 *
 * <p>For a consumer whose deliveries must settle on the channel they came on, this is not the
 * place: a task queue's consumer is made again on the same channel.
 */
public final class KeptConsumer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KeptConsumer.class);

  /** Declares, on the new channel, what the consumer needs, and names the queue it consumes. */
  @FunctionalInterface
  public interface Declaration {
    /**
     * @param again false for the first consumer, true for one that replaces a consumer the broker
     *     ended
     * @return the queue to consume
     */
    String declare(Channel channel, boolean again) throws IOException;

    /**
     * Told that the broker refused this declaration, or the consumer of the queue it named: whether
     * the next declaration names another queue ({@link KeptQueueName}), which is then tried at once
     * rather than after {@code retryEvery}.
     */
    default boolean movedOn(Throwable refusal) {
      return false;
    }
  }

  /** What the consumer receives, on the connection's consumer thread, in broker order. */
  @FunctionalInterface
  public interface Deliveries {
    void handle(Envelope envelope, AMQP.BasicProperties properties, byte[] body);
  }

  /** Something done on the consumer's channel while it consumes. */
  @FunctionalInterface
  public interface ChannelCall {
    void call(Channel channel) throws IOException;
  }

  /** Where a kept consumer tells of its loss and its return; each called on the reopener. */
  public interface Notices {
    /** The broker ended the consumer, for {@code why}; it is being made again. */
    void lost(String why);

    /** The first of a run of refused tries to make it again, for the broker's {@code reason}. */
    void refused(String reason);

    /**
     * Consuming (again), after {@code refusals} refused tries (0: at the first). Not called for the
     * first consumer of {@link #start}.
     */
    void back(int refusals);
  }

  private final Connection connection;
  private final Declaration declaration;
  private final Deliveries deliveries;
  private final ScheduledExecutorService reopener;
  private final Duration retryEvery;
  private final Notices notices;

  // Guarded by this. Null while the consumer is lost.
  private Channel channel;
  private String consumerTag;
  private String queue;
  private boolean closed;
  private int refusals;

  /**
   * The channel whose consumer the broker ended last, told of on the connection's threads before
   * the consumer is made again: set without the lock, which a consumer being made holds.
   */
  private volatile Channel ended;

  /** Whether the consumer is there: its channel open, and the broker has not ended it. */
  private boolean live() {
    return channel != null && channel != ended && channel.isOpen();
  }

  /** Whether a consumer was made once: the next is made again. */
  private boolean made;

  private KeptConsumer(
      Connection connection,
      Declaration declaration,
      Deliveries deliveries,
      ScheduledExecutorService reopener,
      Duration retryEvery,
      Notices notices) {
    this.connection = connection;
    this.declaration = declaration;
    this.deliveries = deliveries;
    this.reopener = reopener;
    this.retryEvery = retryEvery;
    this.notices = notices;
  }

  /**
   * Declares and consumes on a new channel.
   *
   * @param reopener where the consumer is made again once lost (not a thread that must be punctual:
   *     it waits for the broker)
   * @param retryEvery how long a refused try waits before the next
   * @throws IOException when the broker refuses this first consumer; nothing is kept then
   */
  public static KeptConsumer start(
      Connection connection,
      Declaration declaration,
      Deliveries deliveries,
      ScheduledExecutorService reopener,
      Duration retryEvery,
      Notices notices)
      throws IOException {
    KeptConsumer kept =
        new KeptConsumer(connection, declaration, deliveries, reopener, retryEvery, notices);
    synchronized (kept) {
      kept.consume();
    }
    return kept;
  }

  /**
   * {@link #start}, except that a first consumer the broker refuses is told of ({@link
   * Notices#refused}) and tried again like a lost one: for a consumer the program can start
   * without.
   */
  public static KeptConsumer startTrying(
      Connection connection,
      Declaration declaration,
      Deliveries deliveries,
      ScheduledExecutorService reopener,
      Duration retryEvery,
      Notices notices) {
    KeptConsumer kept =
        new KeptConsumer(connection, declaration, deliveries, reopener, retryEvery, notices);
    synchronized (kept) {
      kept.consumeAgain(null, null);
    }
    return kept;
  }

  /** Whether it consumes now: false while it is made again, and once closed. */
  public synchronized boolean consuming() {
    return live();
  }

  /**
   * Runs {@code call} on the consumer's channel, unless the consumer is lost or closed. A call the
   * broker refuses closes the channel, and the consumer is made again.
   *
   * @return whether it ran
   */
  public synchronized boolean onChannel(ChannelCall call) throws IOException {
    if (closed || !live()) {
      return false;
    }
    call.call(channel);
    return true;
  }

  /**
   * Deletes {@code queue}, which this consumes, so that the broker ends every consumer of it: this
   * one is made again at once, declaring the queue anew, and the others are not. For a queue that a
   * connection this client lost also consumes, while the broker still holds that connection (it has
   * not seen it end): its consumer would take its turn at the messages, and lose them.
   *
   * <p>Says in the log what it did, or why it could not; nothing while the consumer is being made
   * again, or once closed.
   */
  public void consumeAlone(String queue) {
    try {
      if (onChannel(ch -> ch.queueDelete(queue))) {
        log.warn(
            "made {} again, so that a connection this client lost no longer takes its messages",
            queue);
      }
    } catch (IOException | RuntimeException e) {
      log.warn(
          "could not make {} again, whose messages a connection this client lost may still take:"
              + " {}",
          queue,
          BrokerErrors.reason(e));
    }
  }

  /**
   * {@link #onChannel}, waiting up to {@code timeout} for a consumer the broker ended to be made
   * again: after a reconnection, the broker may have refused amqp-client's declaration (a queue
   * whose node is down, say) while the consumer is already being made again on a new channel.
   *
   * @return whether it ran: false if the consumer was not made again in time, or is closed
   */
  public synchronized boolean onChannelOnceConsuming(Duration timeout, ChannelCall call)
      throws IOException, InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!closed && !live()) {
      long left = end - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return onChannel(call);
  }

  /**
   * Declares and consumes on a new channel, which is then this consumer's; once more at once if the
   * declaration moved to another queue. Holds the lock.
   */
  private void consume() throws IOException {
    try {
      consumeOnNewChannel();
    } catch (IOException | RuntimeException e) {
      if (!declaration.movedOn(e)) {
        throw e;
      }
      consumeOnNewChannel();
    }
  }

  private void consumeOnNewChannel() throws IOException {
    Channel ch = connection.createChannel();
    String tag;
    String consumed;
    try {
      // Before the consumer exists: a channel the broker closes later is then told of at once.
      ch.addShutdownListener(
          cause -> {
            // The whole connection: amqp-client's recovery reopens the channel and declares again.
            if (!cause.isHardError() && !cause.isInitiatedByApplication()) {
              lost(ch, "the broker closed its channel (" + BrokerErrors.reason(cause) + ")");
            }
          });
      consumed = declaration.declare(ch, made);
      tag =
          ch.basicConsume(
              consumed,
              true,
              new DefaultConsumer(ch) {
                @Override
                public void handleDelivery(
                    String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
                  deliveries.handle(envelope, props, body);
                }

                @Override
                public void handleCancel(String tag) {
                  lost(ch, "the broker cancelled its consumer (was its queue deleted?)");
                }
              });
    } catch (IOException | RuntimeException e) {
      // Left known to amqp-client, each refused try would leave a channel for the next recovery to
      // open again.
      Channels.closeOrForget(connection, ch);
      throw e;
    }
    channel = ch;
    consumerTag = tag;
    queue = consumed;
    made = true;
    notifyAll(); // onChannelOnceConsuming
  }

  /**
   * Runs on the connection's threads: it must not wait for this consumer's lock, which a consumer
   * being made holds while it waits for the broker's answers on those threads.
   */
  private void lost(Channel ch, String why) {
    ended = ch;
    try {
      reopener.execute(() -> consumeAgain(ch, why));
    } catch (RejectedExecutionException e) {
      // closing
    }
  }

  /**
   * @param lost the channel whose consumer the broker ended; null for a try after one was refused,
   *     or for the first of {@link #startTrying}
   */
  private synchronized void consumeAgain(Channel lost, String why) {
    if (closed || lost != channel) {
      return; // closed, or that channel was replaced already
    }
    if (lost != null) {
      notices.lost(why);
      forget(lost, consumerTag);
      channel = null;
      consumerTag = null;
    }
    try {
      consume();
      notices.back(refusals);
      refusals = 0;
    } catch (IOException | RuntimeException e) {
      if (refusals++ == 0) {
        notices.refused(BrokerErrors.reason(e));
      }
      try {
        reopener.schedule(
            () -> consumeAgain(null, null), retryEvery.toNanos(), TimeUnit.NANOSECONDS);
      } catch (RejectedExecutionException closing) {
        // closing
      }
    }
  }

  /**
   * Closes {@code ch} if it is open (amqp-client then forgets it with its consumer). One the broker
   * closed is made to forget its consumer, and then the channel itself ({@link
   * Channels#closeOrForget}).
   */
  private void forget(Channel ch, String tag) {
    if (!ch.isOpen()) {
      Channels.forgetConsumer(ch, tag);
    }
    Channels.closeOrForget(connection, ch);
  }

  /** Stops consuming, for good, and closes the channel. */
  @Override
  public void close() {
    close(null);
  }

  /**
   * Stops consuming, for good: runs {@code last} on the channel if it is open (to delete the queue,
   * say; a failure is logged, at debug level), then closes it.
   */
  public synchronized void close(ChannelCall last) {
    closed = true;
    notifyAll(); // onChannelOnceConsuming
    if (channel == null) {
      return;
    }
    try {
      if (last != null && channel.isOpen()) {
        last.call(channel);
      }
    } catch (IOException | RuntimeException e) {
      log.debug("on closing the consumer of {}: {}", queue, BrokerErrors.reason(e));
    } finally {
      forget(channel, consumerTag);
      channel = null;
      consumerTag = null;
    }
  }
}
