package dev.conveyor.control;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;

/** Every task event of a test, recorded from before anything is published. */
final class Events {
  private final List<TaskEvent> tasks = new CopyOnWriteArrayList<>();

  static Events open(TestBroker broker) throws IOException {
    Events events = new Events();
    broker.own(
        EventSubscription.open(
            broker.connection(),
            broker.topology(),
            List.of("task.*"),
            e -> {
              if (e instanceof Event.Task t) {
                events.tasks.add(t.event());
              }
            }));
    return events;
  }

  TaskEvent await(String task, TaskState state) {
    return Awaitility.await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> find(task, state), e -> e != null);
  }

  private TaskEvent find(String task, TaskState state) {
    return tasks.stream()
        .filter(e -> task.equals(e.task()) && e.state() == state)
        .findFirst()
        .orElse(null);
  }

  List<TaskState> states(String task) {
    return tasks.stream().filter(e -> task.equals(e.task())).map(TaskEvent::state).toList();
  }
}
