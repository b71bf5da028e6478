package dev.conveyor.worker.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import java.io.IOException;

/**
 * This worker's ear on {@code ns.control}: a private queue bound to the fanout exchange, so every
 * worker hears every command within milliseconds. What it hears goes to the {@link CommandHandler},
 * on amqp-client's dispatch thread: applying a command does no broker I/O.
 *
 * <p>Once it listens, the worker is also counted: it consumes {@code ns.workers} on the same
 * channel, so that the queue's consumer count is the number of workers that hear commands, and a
 * status round can end as soon as that many answered. Both consumers go, and come back after a
 * reconnection, with the channel.
 */
public final class ControlListener implements AutoCloseable {

  private final Connection connection;
  private final Topology topology;
  private final CommandHandler handler;
  private Channel channel;

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
    // Nothing is meant to arrive here; whatever does is dropped.
    channel.basicConsume(topology.declareWorkers(channel), true, new DefaultConsumer(channel));
  }

  @Override
  public void close() {
    Channels.closeQuietly(channel);
  }
}
