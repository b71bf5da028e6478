package dev.conveyor.protocol.events;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.io.IOException;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A private, auto-deleted queue on {@code ns.events}. Open it before publishing whatever you want
 * to follow, so that no event can slip past.
 */
public final class EventSubscription implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EventSubscription.class);

  /** Every event there is. */
  public static final List<String> ALL = List.of("#");

  private final Channel channel;

  private EventSubscription(Channel channel) {
    this.channel = channel;
  }

  /**
   * @param bindingKeys topic patterns such as {@code task.*} or {@code command.applied}
   * @param listener called on the connection's consumer thread, in broker order
   */
  public static EventSubscription open(
      Connection connection, Topology topology, List<String> bindingKeys, Consumer<Event> listener)
      throws IOException {
    return openRaw(
        connection,
        topology,
        bindingKeys,
        (routingKey, body) -> {
          try {
            listener.accept(decode(routingKey, body));
          } catch (MalformedMessageException e) {
            log.warn("ignoring undecodable event {}: {}", routingKey, e.getMessage());
          }
        });
  }

  /**
   * The same, undecoded: for a follower that needs only the routing key ({@code task.<state>}) and
   * should not spend CPU on JSON, such as a benchmark counting outcomes.
   *
   * @param listener given each event's routing key and body, on the connection's consumer thread
   */
  public static EventSubscription openRaw(
      Connection connection,
      Topology topology,
      List<String> bindingKeys,
      BiConsumer<String, byte[]> listener)
      throws IOException {
    Channel ch = connection.createChannel();
    topology.declareCore(ch);
    String queue = ch.queueDeclare("", false, true, true, null).getQueue();
    for (String key : bindingKeys) {
      ch.queueBind(queue, topology.names().eventsExchange(), key);
    }
    ch.basicConsume(
        queue,
        true,
        new DefaultConsumer(ch) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
            listener.accept(envelope.getRoutingKey(), body);
          }
        });
    return new EventSubscription(ch);
  }

  public static Event decode(String routingKey, byte[] body) throws MalformedMessageException {
    if (routingKey.startsWith("task.")) {
      return new Event.Task(Wire.decode(body, TaskEvent.class));
    }
    if (routingKey.startsWith("worker.")) {
      return new Event.Worker(Wire.decode(body, WorkerEvent.class));
    }
    if (routingKey.equals(CommandApplied.ROUTING_KEY)) {
      return new Event.Applied(Wire.decode(body, CommandApplied.class));
    }
    throw new MalformedMessageException("unknown event routing key " + routingKey);
  }

  @Override
  public void close() {
    Channels.closeQuietly(channel);
  }
}
