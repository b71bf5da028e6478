package dev.conveyor.worker.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This worker's ear on {@code ns.control}: a private queue bound to the fanout exchange, so every
 * worker hears every command within milliseconds. What it hears goes to the {@link CommandHandler},
 * on amqp-client's dispatch thread: applying a command does no broker I/O.
 *
 * <p>Once it listens, the worker is also counted: it consumes {@code ns.workers}, so that the
 * queue's consumer count is the number of workers that hear commands, and a status round can end as
 * soon as that many answered. That consumer has a channel of its own, so that a failed declaration
 * of the queue cannot close the one that hears commands. amqp-client brings both back after a
 * reconnection; when the queue itself goes (the node that held it was lost, or it was deleted), the
 * broker cancels the consumer and the worker declares the queue and consumes it again.
 */
public final class ControlListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlListener.class);

  private final Connection connection;
  private final Topology topology;
  private final CommandHandler handler;
  private Channel channel;
  private Channel counted;

  public ControlListener(Connection connection, Topology topology, CommandHandler handler) {
    this.connection = connection;
    this.topology = topology;
    this.handler = handler;
  }

  public void start() throws IOException {
    channel = connection.createChannel();
    String queue = channel.queueDeclare("", false, true, true, null).getQueue();
    channel.queueBind(queue, topology.names().controlExchange(), "");
    channel.basicConsume(
        queue,
        true,
        new DefaultConsumer(channel) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
            handler.handle(body, props.getHeaders(), props.getReplyTo(), props.getCorrelationId());
          }
        });
    // After the control consumer: a worker counted is one that hears what is published next.
    counted = connection.createChannel();
    beCounted();
  }

  /** Nothing is meant to arrive on {@code ns.workers}; whatever does is dropped. */
  private void beCounted() throws IOException {
    counted.basicConsume(
        topology.declareWorkers(counted),
        true,
        new DefaultConsumer(counted) {
          @Override
          public void handleCancel(String consumerTag) {
            // Called on amqp-client's dispatch thread, which may wait for a reply. Forgotten first,
            // or amqp-client's recovery would consume again with it beside its replacement, and
            // the worker would be counted twice after a reconnection.
            Channels.forgetConsumer(counted, consumerTag);
            try {
              beCounted();
            } catch (IOException | RuntimeException e) {
              log.warn(
                  "{} went and could not be consumed again ({}): this worker still obeys commands,"
                      + " but is no longer counted, so a status round may end before it answers",
                  topology.names().workers(),
                  BrokerErrors.reason(e));
            }
          }
        });
  }

  @Override
  public void close() {
    Channels.closeQuietly(counted);
    Channels.closeQuietly(channel);
  }
}
