package dev.conveyor.bench;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.wire.TaskState;
import java.io.IOException;
import java.util.List;
import java.util.function.Consumer;

/**
 * Counts final task outcomes on {@code ns.events} by routing key alone. The throughput benchmark
 * needs only to know when the last task has ended, and decoding 20 000 JSON events in the same JVM
 * would take CPU from the worker it measures (the raw consumer has no such observer).
 */
final class OutcomeCounter implements AutoCloseable {

  private static final List<TaskState> FINAL =
      List.of(TaskState.SUCCEEDED, TaskState.FAILED, TaskState.REJECTED, TaskState.DEAD);

  private final Channel channel;

  private OutcomeCounter(Channel channel) {
    this.channel = channel;
  }

  /**
   * @param listener told {@code true} for each {@code task.succeeded}, {@code false} for each other
   *     final outcome; called on the connection's consumer thread
   */
  static OutcomeCounter open(Harness h, Consumer<Boolean> listener) throws IOException {
    Channel ch = h.connection().createChannel();
    h.topology().declareCore(ch);
    String queue = ch.queueDeclare("", false, true, true, null).getQueue();
    for (TaskState state : FINAL) {
      ch.queueBind(queue, h.topology().names().eventsExchange(), state.routingKey());
    }
    String succeeded = TaskState.SUCCEEDED.routingKey();
    ch.basicConsume(
        queue,
        true,
        new DefaultConsumer(ch) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
            listener.accept(succeeded.equals(envelope.getRoutingKey()));
          }
        });
    return new OutcomeCounter(ch);
  }

  @Override
  public void close() {
    Channels.closeQuietly(channel);
  }
}
