package dev.conveyor.testkit;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;

/** Every event of a test's namespace, recorded from before the test publishes anything. */
public final class EventLog implements AutoCloseable {

  private final List<Event> events = new CopyOnWriteArrayList<>();
  private AutoCloseable subscription;

  private EventLog() {}

  public static EventLog open(TestBroker broker) {
    EventLog log = new EventLog();
    try {
      EventSubscription sub =
          EventSubscription.open(
              broker.connection(), broker.topology(), EventSubscription.ALL, log.events::add);
      log.subscription = sub::close;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return broker.own(log);
  }

  /**
   * Records from a durable quorum queue of the test's namespace, so that the log survives a broker
   * restart: what the workers publish while the test's own connection recovers waits there for it,
   * where a private queue would have gone with the connection.
   */
  public static EventLog openDurable(TestBroker broker) {
    EventLog log = new EventLog();
    try {
      Channel ch = broker.connection().createChannel();
      broker.topology().declareCore(ch);
      String queue = broker.namespace() + ".test-events";
      broker.deleteAfterwards(queue);
      ch.queueDeclare(queue, true, false, false, Map.of("x-queue-type", "quorum"));
      ch.queueBind(queue, broker.names().eventsExchange(), "#");
      ch.basicConsume(
          queue,
          true,
          new DefaultConsumer(ch) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
              try {
                log.events.addAll(EventSubscription.decodeAll(envelope.getRoutingKey(), body));
              } catch (MalformedMessageException e) {
                throw new IllegalStateException("undecodable event " + envelope, e);
              }
            }
          });
      log.subscription = ch::close;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return broker.own(log);
  }

  public List<TaskEvent> tasks() {
    return events.stream()
        .filter(e -> e instanceof Event.Task)
        .map(e -> ((Event.Task) e).event())
        .toList();
  }

  public List<TaskEvent> of(String taskId) {
    return tasks().stream().filter(e -> taskId.equals(e.task())).toList();
  }

  public List<TaskState> states(String taskId) {
    return of(taskId).stream().map(TaskEvent::state).toList();
  }

  public List<WorkerEvent> workers() {
    return events.stream()
        .filter(e -> e instanceof Event.Worker)
        .map(e -> ((Event.Worker) e).event())
        .toList();
  }

  public List<CommandApplied> applied(String commandId) {
    return events.stream()
        .filter(e -> e instanceof Event.Applied)
        .map(e -> ((Event.Applied) e).event())
        .filter(a -> commandId.equals(a.command()))
        .toList();
  }

  public List<CommandRefused> refused(String commandId) {
    return events.stream()
        .filter(e -> e instanceof Event.Refused)
        .map(e -> ((Event.Refused) e).event())
        .filter(r -> commandId.equals(r.command()))
        .toList();
  }

  /** Waits for the task's first event in {@code state} and returns it. */
  public TaskEvent await(String taskId, TaskState state, Duration timeout) {
    return Awaitility.await()
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(5))
        .until(
            () -> of(taskId).stream().filter(e -> e.state() == state).findFirst().orElse(null),
            e -> e != null);
  }

  public TaskEvent await(String taskId, TaskState state) {
    return await(taskId, state, Duration.ofSeconds(20));
  }

  /**
   * Waits (30 s at most) for the worker's first event in {@code state}, one of {@link
   * WorkerEvent}'s states: {@link WorkerEvent#RECONNECTED} comes once amqp-client has recovered the
   * connection, its channels, their topology and consumers.
   */
  public WorkerEvent awaitWorker(String worker, String state) {
    return Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                workers().stream()
                    .filter(e -> e.worker().equals(worker) && e.state().equals(state))
                    .findFirst()
                    .orElse(null),
            e -> e != null);
  }

  /** Waits for the task's final event (docs/design.md) and returns it. */
  public TaskEvent awaitFinal(String taskId, Duration timeout) {
    return Awaitility.await()
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(5))
        .until(
            () -> of(taskId).stream().filter(e -> e.state().isFinal()).findFirst().orElse(null),
            e -> e != null);
  }

  /**
   * Which of these tasks ran more than once, and why, as far as the events tell; printed to the
   * test's output.
   *
   * @param scenario names the test in what is printed
   */
  public Duplicates duplicates(String scenario, Collection<String> taskIds) {
    return duplicates(scenario, taskIds, Set.of());
  }

  /**
   * @param finishedUnannounced tasks a worker logged as finished but not settled (see {@link
   *     Duplicates#of(List, Collection, Set)})
   */
  public Duplicates duplicates(
      String scenario, Collection<String> taskIds, Set<String> finishedUnannounced) {
    Duplicates d = Duplicates.of(tasks(), taskIds, finishedUnannounced);
    System.out.println(d.report(scenario));
    return d;
  }

  @Override
  public void close() {
    try {
      subscription.close();
    } catch (Exception e) {
      // its connection is gone already: nothing left to close
    }
  }
}
