package dev.conveyor.worker.messaging;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A channel for publishing that outlives broker-side closures. amqp-client's recovery reopens
 * channels after a lost connection, but not one the broker closed on its own — for instance after a
 * publish to an exchange someone deleted. This one is reopened on next use, with the topology
 * declared again.
 */
final class PublishChannel implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PublishChannel.class);

  private final Connection connection;
  private final Topology topology;
  private final boolean confirms;
  private final Object recovered = new Object();
  private Channel channel;

  /**
   * While the broker blocks the connection (a resource alarm), a confirm's timeout stands still.
   */
  private volatile boolean blocked;

  /** How long a confirm may take while the broker is not blocking us. */
  private static final long CONFIRM_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

  /**
   * @param confirms whether publishes wait for the broker's confirm
   */
  PublishChannel(Connection connection, Topology topology, boolean confirms) throws IOException {
    this.connection = connection;
    this.topology = topology;
    this.confirms = confirms;
    this.channel = open(null);
    connection.addBlockedListener(reason -> blocked = true, () -> blocked = false);
    // A block belongs to the connection: a recovered one starts unblocked.
    connection.addShutdownListener(cause -> blocked = false);
    if (connection instanceof Recoverable r) {
      r.addRecoveryListener(
          new RecoveryListener() {
            @Override
            public void handleRecovery(Recoverable recoverable) {
              synchronized (recovered) {
                recovered.notifyAll();
              }
            }

            @Override
            public void handleRecoveryStarted(Recoverable recoverable) {}
          });
    }
  }

  /**
   * Waits, at most until the deadline ({@link System#nanoTime()}), for the connection to be open;
   * amqp-client's recovery reopens it after a loss.
   *
   * @return whether it is open
   */
  boolean awaitOpen(long deadlineNanos) throws InterruptedException {
    synchronized (recovered) {
      long left;
      while (!connection.isOpen() && (left = deadlineNanos - System.nanoTime()) > 0) {
        recovered.wait(Math.max(1, left / 1_000_000));
      }
    }
    return connection.isOpen();
  }

  boolean connectionOpen() {
    return connection.isOpen();
  }

  /**
   * A new channel; {@code replaced}, one the broker closed, gives it its number ({@link
   * Channels#replacing}) so that amqp-client's recovery does not open the closed one again.
   */
  private Channel open(Channel replaced) throws IOException {
    Channel ch = Channels.replacing(connection, replaced);
    ch.addShutdownListener(
        cause -> {
          if (!cause.isHardError() && !cause.isInitiatedByApplication()) {
            // Without confirms nothing else tells: what was published after the refused message
            // is dropped with it.
            log.warn(
                "the broker closed the channel this worker publishes {} on ({}); {}",
                confirms ? "retries and dead letters" : "events",
                cause.getMessage(),
                confirms
                    ? "the publish waiting for its confirm fails, and the next one opens it again"
                    : "events published on it since the one it refused are lost; the next one"
                        + " opens it again");
          }
        });
    if (confirms) {
      ch.confirmSelect();
    }
    topology.declareCore(ch);
    return ch;
  }

  /**
   * Publishes; with confirms, returns once the broker has confirmed.
   *
   * @throws IOException also when the connection is closing: amqp-client closes its channels one by
   *     one while the socket is still open, and a publish on one not yet closed would go out as if
   *     sent, to a broker that has closed the connection and ignores it
   */
  synchronized void publish(
      String exchange, String routingKey, AMQP.BasicProperties props, byte[] body)
      throws IOException, TimeoutException, InterruptedException {
    if (!connection.isOpen()) {
      throw new IOException("the connection is closed or closing");
    }
    if (!channel.isOpen()) {
      channel = open(channel);
    }
    channel.basicPublish(exchange, routingKey, props, body);
    if (confirms) {
      awaitConfirm();
    }
  }

  /**
   * Waits for the confirm; the timeout counts only time the broker was not blocking us. Giving up
   * during an alarm would hand the task back while the broker still holds the copy it is about to
   * confirm: once the alarm cleared, the task would be delivered again and settled twice.
   */
  private void awaitConfirm() throws IOException, TimeoutException, InterruptedException {
    long waited = 0;
    long slice = TimeUnit.MILLISECONDS.toNanos(500);
    while (true) {
      long start = System.nanoTime();
      try {
        // Not waitForConfirmsOrDie: it closes the channel when its timeout passes.
        if (!channel.waitForConfirms(TimeUnit.NANOSECONDS.toMillis(slice))) {
          throw new IOException("the broker refused (nacked) the publish");
        }
        return;
      } catch (TimeoutException e) {
        if (!blocked) {
          waited += System.nanoTime() - start;
          if (waited >= CONFIRM_TIMEOUT_NANOS) {
            throw e;
          }
        }
      }
    }
  }

  @Override
  public synchronized void close() {
    Channels.closeQuietly(channel);
  }
}
