package dev.conveyor.testkit;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;

/** Every event of a test's namespace, recorded from before the test publishes anything. */
public final class EventLog implements AutoCloseable {

  private final List<Event> events = new CopyOnWriteArrayList<>();
  private final EventSubscription subscription;

  private EventLog(TestBroker broker) {
    try {
      subscription =
          EventSubscription.open(
              broker.connection(), broker.topology(), EventSubscription.ALL, events::add);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static EventLog open(TestBroker broker) {
    return broker.own(new EventLog(broker));
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

  /** Waits for the task's final event (docs/design.md) and returns it. */
  public TaskEvent awaitFinal(String taskId, Duration timeout) {
    return Awaitility.await()
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(5))
        .until(
            () -> of(taskId).stream().filter(e -> e.state().isFinal()).findFirst().orElse(null),
            e -> e != null);
  }

  @Override
  public void close() {
    subscription.close();
  }
}
