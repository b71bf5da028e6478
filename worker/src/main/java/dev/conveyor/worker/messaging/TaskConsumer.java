package dev.conveyor.worker.messaging;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.worker.execution.AckWindow;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.LeaseScope;
import java.io.IOException;
import java.util.concurrent.Executor;
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
 */
public final class TaskConsumer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TaskConsumer.class);

  private final Connection connection;
  private final String queueName;
  private final String queue;
  private final AckWindow.Gathering acks;
  private final Consumer<Lease> intake;
  private final Consumer<LeaseScope> onLeasesLost;
  private final Executor reopener;

  /** The scope of the deliveries to come, and the channel they come from. */
  private record Current(LeaseScope scope, Channel channel) {}

  private final AtomicReference<Current> current = new AtomicReference<>();
  private volatile Channel channel;
  private volatile String consumerTag;
  private volatile boolean paused;
  private volatile boolean closed;

  /**
   * @param queueName the broker name of the queue
   * @param queue the task queue's own name (the routing key)
   * @param acks the prefetch, and how acks gather ({@link AckWindow.Gathering#of})
   * @param onLeasesLost told, after the last delivery of a channel or connection that is gone, that
   *     the broker has taken back every lease of that scope
   * @param reopener where to reopen a channel (not on the closing channel's thread, and not on a
   *     thread that must be punctual: it waits for the broker)
   */
  public TaskConsumer(
      Connection connection,
      String queueName,
      String queue,
      AckWindow.Gathering acks,
      Consumer<Lease> intake,
      Consumer<LeaseScope> onLeasesLost,
      Executor reopener) {
    this.connection = connection;
    this.queueName = queueName;
    this.queue = queue;
    this.acks = acks;
    this.intake = intake;
    this.onLeasesLost = onLeasesLost;
    this.reopener = reopener;
  }

  public synchronized void start() throws IOException {
    Channel ch = connection.createChannel();
    ch.basicQos(acks.prefetch());
    ch.addShutdownListener(cause -> channelClosed(ch, cause));
    channel = ch;
    // A channel that replaces a closed one starts a scope of its own; the old one's deliveries are
    // gone with it, whether or not its consumer heard of it yet.
    Current old = current.getAndSet(new Current(newScope(ch), ch));
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
    if (consumerTag == null && channel.isOpen()) {
      consume();
    }
  }

  public boolean consuming() {
    return consumerTag != null && channel != null && channel.isOpen();
  }

  private void consume() throws IOException {
    Channel ch = channel;
    consumerTag =
        ch.basicConsume(
            queueName,
            false,
            new DefaultConsumer(ch) {
              @Override
              public void handleDelivery(
                  String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
                Current now = current.get();
                LeaseScope scope;
                if (now.channel() == ch) {
                  scope = now.scope();
                  scope.acks().delivered(envelope.getDeliveryTag());
                } else {
                  // Dispatched after its channel was replaced: the broker has it back already.
                  scope = new LeaseScope();
                  scope.markLost(false);
                }
                intake.accept(new Lease(ch, envelope.getDeliveryTag(), queue, props, body, scope));
              }

              /**
               * Dispatched after every delivery that came before the loss, on the same thread:
               * every lease of the ended scope is known to the worker by now, and none that comes
               * later belongs to it. (A shutdown listener on the connection runs on another thread
               * and may see a snapshot that misses deliveries still being dispatched.)
               */
              @Override
              public void handleShutdownSignal(String tag, ShutdownSignalException sig) {
                endScope(ch, sig.isHardError());
              }
            });
  }

  private void channelClosed(Channel lost, ShutdownSignalException cause) {
    if (closed) {
      return;
    }
    if (consumerTag == null) {
      // Paused: no consumer hears of the loss, but the leases are gone all the same.
      endScope(lost, cause.isHardError());
    }
    if (cause.isInitiatedByApplication() || cause.isHardError()) {
      // Ours, or the whole connection: amqp-client's recovery handles the latter.
      return;
    }
    log.warn("broker closed the channel of queue {}: {}", queue, cause.getMessage());
    reopener.execute(this::reopen);
  }

  /**
   * Ends the scope of channel {@code ch}'s deliveries, unless a new channel has replaced it (its
   * {@link #start} ended that scope already).
   */
  private void endScope(Channel ch, boolean withConnection) {
    Current ended = current.get();
    // After a lost connection the channel object recovers and delivers again under a new scope;
    // a channel the broker closed delivers nothing more, and {@link #start} replaces it.
    LeaseScope next = newScope(ch);
    if (!withConnection) {
      next.markLost(false);
    }
    if (ended == null
        || ended.channel() != ch
        || !current.compareAndSet(ended, new Current(next, ch))) {
      return;
    }
    ended.scope().markLost(withConnection);
    onLeasesLost.accept(ended.scope());
  }

  /**
   * A scope whose acks are written in runs on the channel its deliveries come from: amqp-client's
   * recovery keeps the channel object, a channel the broker closed is replaced along with its scope
   * ({@link #start}), so no ack goes to a channel that did not deliver it.
   */
  private LeaseScope newScope(Channel ch) {
    return new LeaseScope(new AckWindow((tag, multiple) -> ch.basicAck(tag, multiple), acks));
  }

  private void reopen() {
    synchronized (this) {
      if (closed) {
        return;
      }
      consumerTag = null;
      try {
        start();
        log.info("consuming {} again on a new channel", queue);
      } catch (IOException | RuntimeException e) {
        log.error("could not reopen the channel of queue {}", queue, e);
      }
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    Channels.closeQuietly(channel);
  }
}
