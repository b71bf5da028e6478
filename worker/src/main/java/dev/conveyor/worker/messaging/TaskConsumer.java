package dev.conveyor.worker.messaging;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownListener;
import com.rabbitmq.client.ShutdownSignalException;
import com.rabbitmq.client.impl.recovery.AutorecoveringChannel;
import com.rabbitmq.client.impl.recovery.RecoveryAwareChannelN;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.worker.execution.AckWindow;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.LeaseScope;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes one task queue with manual acks and a prefetch equal to the worker's concurrency.
 *
 * <p>amqp-client's recovery reopens channels after a lost connection, but never a channel that the
 * broker closed on its own (a precondition failure, the delivery acknowledgement timeout). This
 * consumer notices such a closure, reports the leases it lost and consumes again on a new channel.
 *
 * <p>After a lost connection this consumer does not consume again until {@link #consumeAgain} is
 * called: its connection must leave its consumer out of amqp-client's recovery ({@link
 * dev.conveyor.protocol.broker.BrokerConnector#recoveringConsumersExcept}), so that the worker
 * hears the commands sent meanwhile first.
 *
 * <p>The leases of a channel end when the channel closes, on the thread that closes it. For a lost
 * connection that is the connection's own thread, in the connection's shutdown listener: after
 * amqp-client has closed every channel of the connection and its socket, before it begins the
 * recovery. Waiting for the consumer's {@code handleShutdownSignal} instead is not enough:
 * amqp-client dispatches each connection's consumer callbacks on a pool of that connection's own,
 * so after a recovery the new channel's deliveries do not wait for the old channel's dispatch,
 * shutdown signal included. A redelivery could then find the lease it replaces still held, run
 * beside it, and be taken for one of the old channel's deliveries when the signal came at last.
 * Ending them in the channel's own shutdown listener is too soon: amqp-client closes a lost
 * connection's channels one by one, in no set order, while the socket is still open, so the tasks
 * stopped there could announce their {@code requeued} on an events channel not yet closed, and the
 * broker, which has closed the connection, ignores it; closed, the channel refuses the publish, and
 * the events wait for the recovery.
 */
public final class TaskConsumer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TaskConsumer.class);

  private final Connection connection;
  private final Topology topology;
  private final String queueName;
  private final String queue;
  private final AckWindow.Gathering acks;
  private final Consumer<Lease> intake;
  private final Consumer<LeaseScope> onLeasesLost;
  private final ScheduledExecutorService reopener;

  /**
   * How long a consumer waits before it reopens its channel again when the broker closed the last
   * one it reopened, before or as it consumed: the queue may be gone and not declarable by this
   * worker (a vhost's queue limit, no configure permission), and every try is refused at once.
   */
  static final Duration REOPEN_RETRY = Duration.ofSeconds(5);

  /** Reopens tried since the last that consumed (or left the consumer paused). */
  private final AtomicInteger reopening = new AtomicInteger();

  /**
   * The scope of the deliveries to come, the channel they come from, and the last delivery tag that
   * channel gave out before a lost connection: amqp-client's recovery keeps the channel object and
   * numbers the recovered channel's deliveries on from there, so a delivery at or below it is one
   * of the lost connection's, still being dispatched.
   */
  private record Current(LeaseScope scope, Channel channel, long lostUpTo) {}

  private final AtomicReference<Current> current = new AtomicReference<>();
  private final ShutdownListener onConnectionClosed = this::connectionClosed;
  private volatile Channel channel;
  private volatile String consumerTag;

  /**
   * The tag of the consumer a lost connection ended, which {@link #consumeAgain} reuses:
   * amqp-client keeps a record of every consumer by its tag, which the new one then replaces.
   */
  private volatile String lostTag;

  private volatile boolean paused;
  private volatile boolean closed;

  /**
   * @param topology declares the queue again where it may have been deleted
   * @param queue the task queue's own name (the routing key)
   * @param acks the prefetch, and how acks gather ({@link AckWindow.Gathering#of})
   * @param onLeasesLost told, on the thread that closed a channel (when the connection went: the
   *     connection's own, once every channel and the socket are closed, before amqp-client's
   *     recovery begins), that the broker has taken back every lease of that channel's scope; a
   *     delivery of that scope dispatched after this comes to the intake already lost. It must not
   *     wait: it may hold up the connection
   * @param reopener where to reopen a channel, at once or after {@link #REOPEN_RETRY} (not on the
   *     closing channel's thread, and not on a thread that must be punctual: it waits for the
   *     broker)
   */
  public TaskConsumer(
      Connection connection,
      Topology topology,
      String queue,
      AckWindow.Gathering acks,
      Consumer<Lease> intake,
      Consumer<LeaseScope> onLeasesLost,
      ScheduledExecutorService reopener) {
    this.connection = connection;
    this.topology = topology;
    this.queueName = topology.names().taskQueue(queue);
    this.queue = queue;
    this.acks = acks;
    this.intake = intake;
    this.onLeasesLost = onLeasesLost;
    this.reopener = reopener;
    // After the listeners that were there before: the worker's notes the loss before its tasks
    // stop.
    connection.addShutdownListener(onConnectionClosed);
  }

  public synchronized void start() throws IOException {
    // A channel that replaces one the broker closed takes its number, so that amqp-client's
    // recovery does not open the closed one again.
    Channel ch = Channels.replacing(connection, channel);
    ch.basicQos(acks.prefetch());
    ch.addShutdownListener(cause -> channelClosed(ch, cause));
    channel = ch;
    // A channel that replaces a closed one starts a scope of its own; the old one's deliveries are
    // gone with it, whether or not its consumer heard of it yet.
    Current old = current.getAndSet(new Current(newScope(ch), ch, 0));
    if (old != null && !old.scope().lost()) {
      old.scope().markLost(false);
      onLeasesLost.accept(old.scope());
    }
    if (!paused) {
      consume();
    }
  }

  /** Stops taking new tasks; running ones are not affected. */
  public synchronized void pause() throws IOException {
    paused = true;
    String tag = consumerTag;
    consumerTag = null;
    if (tag != null && channel.isOpen()) {
      channel.basicCancel(tag);
    }
  }

  public synchronized void resume() throws IOException {
    paused = false;
    // Not started yet (a resume while the worker starts): start() consumes.
    if (consumerTag == null && channel != null && channel.isOpen()) {
      declareAndConsume();
    }
  }

  public boolean consuming() {
    return consumerTag != null && channel != null && channel.isOpen();
  }

  /**
   * Declares the queue again and consumes it, where it may have been deleted meanwhile: after the
   * broker cancelled the consumer, and on a resume. A declaration that conflicts (the queue made
   * again with other arguments) closes the channel, and the new one consumes without declaring.
   */
  private void declareAndConsume() throws IOException {
    topology.declareTaskQueue(channel, queue);
    consume();
  }

  private void consume() throws IOException {
    Channel ch = channel;
    String reused = lostTag;
    lostTag = null;
    consumerTag =
        ch.basicConsume(
            queueName,
            false,
            reused == null ? "" : reused,
            new DefaultConsumer(ch) {
              @Override
              public void handleDelivery(
                  String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
                Current now = current.get();
                long deliveryTag = envelope.getDeliveryTag();
                LeaseScope scope;
                if (now.channel() == ch && deliveryTag > now.lostUpTo()) {
                  // If the scope ends while this is handed on, the intake finds the lease lost, or
                  // the scope's end finds its run.
                  scope = now.scope();
                  scope.acks().delivered(deliveryTag);
                } else {
                  // Dispatched after its channel was replaced, or after the connection it came on
                  // was lost: the broker has it back already.
                  scope = new LeaseScope();
                  scope.markLost(now.channel() == ch);
                }
                intake.accept(new Lease(ch, deliveryTag, queue, props, body, scope));
              }

              @Override
              public void handleCancel(String tag) {
                // The broker ended the consumer but not its channel: the queue was deleted.
                reopener.execute(() -> consumeAgain(ch, tag));
              }
            });
  }

  /**
   * After the broker cancelled the consumer on {@code ch} (its queue was deleted): consumes the
   * queue, declared again, on the same channel, on which the tasks already delivered still settle.
   * Until then {@link #consuming} is false, and so is the worker's readiness.
   */
  private synchronized void consumeAgain(Channel ch, String tag) {
    if (closed || channel != ch || !tag.equals(consumerTag)) {
      return; // closed, replaced or paused meanwhile
    }
    Channels.forgetConsumer(ch, tag);
    consumerTag = null;
    log.warn(
        "the broker cancelled the consumer of queue {} (was it deleted?); declaring it and"
            + " consuming it again",
        queue);
    try {
      declareAndConsume();
      log.info("consuming {} again", queue);
    } catch (IOException | RuntimeException e) {
      log.error("could not consume queue {} again: {}", queue, BrokerErrors.reason(e));
    }
  }

  /**
   * Runs on the thread that closed the channel, once the channel takes no more deliveries. A
   * channel closed with its connection (a hard error) is left to {@link #connectionClosed}: its
   * siblings, the events channel among them, may not be closed yet.
   */
  private void channelClosed(Channel lost, ShutdownSignalException cause) {
    if (!cause.isHardError()) {
      endScope(lost, cause);
    }
    if (closed) {
      return;
    }
    if (cause.isInitiatedByApplication() || cause.isHardError()) {
      // Ours, or the whole connection: amqp-client's recovery handles the latter.
      return;
    }
    // Not the lock of this: a reopen holds it while it waits for the broker's answers, which come
    // on the thread that runs this.
    boolean again = reopening.get() > 0;
    if (!again) {
      log.warn("broker closed the channel of queue {}: {}", queue, BrokerErrors.reason(cause));
    }
    try {
      reopener.schedule(this::reopen, again ? REOPEN_RETRY.toNanos() : 0, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // closing
    }
  }

  /**
   * The connection's shutdown listener: amqp-client runs it on the connection's own thread once it
   * has closed the socket and every channel (AMQConnection.doFinalShutdown), and only then lets the
   * recovery begin. So the leases end before any redelivery can come, and whatever the stopped
   * tasks publish fails on a closed channel and waits for the recovery.
   */
  private void connectionClosed(ShutdownSignalException cause) {
    Current now = current.get();
    if (now != null) {
      endScope(now.channel(), cause);
    }
    // Not recovered by amqp-client (BrokerConnector#recoveringConsumersExcept): consumeAgain.
    String tag = consumerTag;
    if (tag != null) {
      lostTag = tag;
      consumerTag = null;
    }
  }

  /**
   * Consumes again once amqp-client has recovered the connection, which it leaves this consumer out
   * of: the worker first hears the commands published while it was away, and a {@code pause} among
   * them keeps it from taking any task. Not while paused, closed, or consuming already (on a
   * channel reopened meanwhile).
   */
  public synchronized void consumeAgain() throws IOException {
    if (closed || paused || consumerTag != null || channel == null || !channel.isOpen()) {
      return;
    }
    consume();
  }

  /**
   * Ends the scope of channel {@code ch}'s deliveries, unless a new channel has replaced it (its
   * {@link #start} ended that scope already).
   */
  private void endScope(Channel ch, ShutdownSignalException cause) {
    Current ended = current.get();
    if (ended == null || ended.channel() != ch || ended.scope().lost()) {
      return;
    }
    boolean withConnection = cause.isHardError();
    // After a lost connection the channel object recovers and delivers again under a new scope,
    // its tags above the last one the lost connection gave out. A channel the broker closed
    // delivers nothing more, and {@link #start} replaces it; nor does one that no recovery brings
    // back.
    long lastTag = withConnection ? lastDeliveryTag(ch) : -1;
    LeaseScope next = newScope(ch);
    if (lastTag < 0) {
      next.markLost(withConnection);
    }
    if (!current.compareAndSet(ended, new Current(next, ch, Math.max(0, lastTag)))) {
      return;
    }
    ended.scope().markLost(withConnection);
    onLeasesLost.accept(ended.scope());
  }

  /**
   * The last delivery tag channel {@code ch} has given out, as its consumers saw it; -1 if no
   * recovery reopens it. amqp-client numbers a recovered channel's deliveries on from there and
   * drops an ack at or below it ({@link RecoveryAwareChannelN}). Final when the connection's
   * shutdown listeners run: amqp-client has closed the channel before, and a delivery read after
   * the connection began to close is dropped.
   */
  private static long lastDeliveryTag(Channel ch) {
    if (ch instanceof AutorecoveringChannel recovering
        && recovering.getDelegate() instanceof RecoveryAwareChannelN lost) {
      return lost.getActiveDeliveryTagOffset() + lost.getMaxSeenDeliveryTag();
    }
    return -1;
  }

  /**
   * A scope whose acks are written in runs on the channel its deliveries come from: amqp-client's
   * recovery keeps the channel object, a channel the broker closed is replaced along with its scope
   * ({@link #start}), so no ack goes to a channel that did not deliver it.
   */
  private LeaseScope newScope(Channel ch) {
    return new LeaseScope(new AckWindow((tag, multiple) -> ch.basicAck(tag, multiple), acks));
  }

  /**
   * Consumes on a new channel, without declaring the queue: a declaration that conflicts or that
   * the broker refuses is what may have closed the last one. If the broker refuses this one too
   * (the queue is gone), the channel it closes is reopened after {@link #REOPEN_RETRY}.
   */
  private void reopen() {
    synchronized (this) {
      if (closed) {
        return;
      }
      Channels.forgetConsumer(channel, consumerTag);
      consumerTag = null;
      int tries = reopening.incrementAndGet();
      try {
        start();
        reopening.set(0);
        log.info("consuming {} again on a new channel", queue);
      } catch (IOException | RuntimeException e) {
        // A channel the broker closed is reopened again (channelClosed); with the connection, the
        // recovery takes over.
        boolean refused = channel != null && !channel.isOpen() && connection.isOpen();
        log.warn(
            "could not reopen the channel of queue {} (try {}): {}{}",
            queue,
            tries,
            BrokerErrors.reason(e),
            refused ? "; trying again in " + REOPEN_RETRY.toSeconds() + " s" : "");
      }
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    connection.removeShutdownListener(onConnectionClosed);
    Channels.closeQuietly(channel);
  }
}
