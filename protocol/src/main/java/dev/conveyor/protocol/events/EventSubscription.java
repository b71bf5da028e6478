package dev.conveyor.protocol.events;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A private queue on {@code ns.events}, gone with the connection ({@link KeptEventSubscription}
 * keeps one a while after it). Open it before publishing whatever you want to follow, so that no
 * event can slip past.
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
    return openRaw(connection, topology, bindingKeys, decoding(listener));
  }

  /**
   * Like {@link #open}, but declares nothing: for a reader that checked that the namespace exists
   * and must not create one that a typo named. Binding fails if the events exchange is missing.
   */
  public static EventSubscription openExisting(
      Connection connection, Topology topology, List<String> bindingKeys, Consumer<Event> listener)
      throws IOException {
    Channel ch = connection.createChannel();
    try {
      String queue = ch.queueDeclare("", false, true, true, null).getQueue();
      consume(ch, topology, queue, bindingKeys, decoding(listener));
    } catch (IOException | RuntimeException e) {
      Channels.closeQuietly(ch);
      throw e;
    }
    return new EventSubscription(ch);
  }

  /**
   * {@link #openExisting} on the caller's channel, which this subscription then owns (closing it
   * closes the channel): the queue is declared (its name awaited), bound without waiting for the
   * answers and consumed. The broker applies a channel's frames in order, so the bindings are in
   * place before anything published afterwards on the same channel is routed; a binding that fails
   * closes the channel, which the consume reports. For a command that publishes on this channel
   * right after: fewer round trips before it goes out.
   */
  public static EventSubscription openOn(
      Channel ch, Topology topology, List<String> bindingKeys, Consumer<Event> listener)
      throws IOException {
    String queue = ch.queueDeclare("", false, true, true, null).getQueue();
    for (String key : bindingKeys) {
      ch.queueBindNoWait(queue, topology.names().eventsExchange(), key, null);
    }
    ch.basicConsume(queue, true, consumer(ch, decoding(listener)));
    return new EventSubscription(ch);
  }

  /**
   * The same, undecoded: for a follower that needs only the routing key ({@code task.<state>}) and
   * should not spend CPU on JSON, such as a benchmark counting outcomes. A body may hold several
   * events ({@link Wire#countEvents} says how many; {@link #decodeAll} decodes them).
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
    consume(ch, topology, queue, bindingKeys, listener);
    return new EventSubscription(ch);
  }

  /**
   * Decodes each message and hands its events to {@code listener}. Whatever a message holds, the
   * consumer returns normally: amqp-client closes the channel of a consumer that throws, and the
   * subscription would hear nothing more. So a message that holds no event is skipped with a
   * warning, and so is an event the listener fails on (a bug it would otherwise take down with it).
   */
  static BiConsumer<String, byte[]> decoding(Consumer<Event> listener) {
    return (routingKey, body) -> {
      List<Event> events;
      try {
        events = decodeAll(routingKey, body);
      } catch (MalformedMessageException e) {
        log.warn("ignoring undecodable event {}: {}", routingKey, e.getMessage());
        return;
      }
      for (Event event : events) {
        try {
          listener.accept(event);
        } catch (RuntimeException e) {
          log.warn("could not handle event {}, skipped: {}", routingKey, e.toString());
          log.debug("could not handle event {}: {}", routingKey, event, e);
        }
      }
    };
  }

  private static void consume(
      Channel ch,
      Topology topology,
      String queue,
      List<String> bindingKeys,
      BiConsumer<String, byte[]> listener)
      throws IOException {
    for (String key : bindingKeys) {
      ch.queueBind(queue, topology.names().eventsExchange(), key);
    }
    ch.basicConsume(queue, true, consumer(ch, listener));
  }

  private static DefaultConsumer consumer(Channel ch, BiConsumer<String, byte[]> listener) {
    return new DefaultConsumer(ch) {
      @Override
      public void handleDelivery(
          String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
        listener.accept(envelope.getRoutingKey(), body);
      }
    };
  }

  /**
   * Decodes a message that holds one event.
   *
   * @throws MalformedMessageException also for a batch (an array): use {@link #decodeAll}
   */
  public static Event decode(String routingKey, byte[] body) throws MalformedMessageException {
    List<Event> events = decodeAll(routingKey, body);
    if (events.size() != 1) {
      throw new MalformedMessageException(
          "expected one event, got an array of " + events.size() + " on " + routingKey);
    }
    return events.getFirst();
  }

  /**
   * Decodes a message on {@code ns.events}: one event (a JSON object) or a batch of events sharing
   * the routing key (a JSON array of objects), in the order they were published.
   */
  public static List<Event> decodeAll(String routingKey, byte[] body)
      throws MalformedMessageException {
    List<Event> events = new ArrayList<>();
    if (routingKey.startsWith("task.")) {
      for (TaskEvent e : Wire.decodeBatch(body, TaskEvent.class)) {
        named(e.task(), "TaskEvent", "task");
        named(e.state(), "TaskEvent", "state");
        events.add(new Event.Task(e));
      }
    } else if (routingKey.startsWith("worker.")) {
      for (WorkerEvent e : Wire.decodeBatch(body, WorkerEvent.class)) {
        named(e.worker(), "WorkerEvent", "worker");
        events.add(new Event.Worker(e));
      }
    } else if (routingKey.equals(CommandApplied.ROUTING_KEY)) {
      for (CommandApplied e : Wire.decodeBatch(body, CommandApplied.class)) {
        named(e.command(), "CommandApplied", "command");
        named(e.worker(), "CommandApplied", "worker");
        events.add(new Event.Applied(e));
      }
    } else if (routingKey.equals(CommandRefused.ROUTING_KEY)) {
      for (CommandRefused e : Wire.decodeBatch(body, CommandRefused.class)) {
        named(e.command(), "CommandRefused", "command");
        named(e.worker(), "CommandRefused", "worker");
        events.add(new Event.Refused(e));
      }
    } else {
      throw new MalformedMessageException("unknown event routing key " + routingKey);
    }
    return List.copyOf(events);
  }

  /** What an event is about must be there: its readers key on it, and print it. */
  private static void named(Object value, String type, String field)
      throws MalformedMessageException {
    if (value == null) {
      throw new MalformedMessageException("invalid " + type + ": no " + field);
    }
  }

  @Override
  public void close() {
    Channels.closeQuietly(channel);
  }
}
