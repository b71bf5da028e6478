package dev.conveyor.worker.messaging;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import java.io.IOException;
import java.util.concurrent.TimeoutException;

/**
 * A channel for publishing that outlives broker-side closures. amqp-client's recovery reopens
 * channels after a lost connection, but not one the broker closed on its own — for instance after a
 * publish to an exchange someone deleted. This one is reopened on next use, with the topology
 * declared again.
 */
final class PublishChannel implements AutoCloseable {

  private final Connection connection;
  private final Topology topology;
  private final boolean confirms;
  private final Object recovered = new Object();
  private Channel channel;

  /**
   * @param confirms whether publishes wait for the broker's confirm
   */
  PublishChannel(Connection connection, Topology topology, boolean confirms) throws IOException {
    this.connection = connection;
    this.topology = topology;
    this.confirms = confirms;
    this.channel = open();
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

  private Channel open() throws IOException {
    Channel ch = connection.createChannel();
    if (confirms) {
      ch.confirmSelect();
    }
    topology.declareCore(ch);
    return ch;
  }

  /** Publishes; with confirms, returns once the broker has confirmed. */
  synchronized void publish(
      String exchange, String routingKey, AMQP.BasicProperties props, byte[] body)
      throws IOException, TimeoutException, InterruptedException {
    if (!channel.isOpen() && connection.isOpen()) {
      channel = open();
    }
    channel.basicPublish(exchange, routingKey, props, body);
    if (confirms) {
      channel.waitForConfirmsOrDie(10_000);
    }
  }

  @Override
  public synchronized void close() {
    Channels.closeQuietly(channel);
  }
}
