package dev.conveyor.producer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class WaitTrackerTest {

  private static Event.Task event(String task, TaskState state) {
    return event(task, state, null, null);
  }

  private static Event.Task event(String task, TaskState state, Cause cause, String reason) {
    return new Event.Task(
        new TaskEvent(
            task, "sleep", state, "w1", 1, Instant.now(), 5L, cause, reason, null, null, null));
  }

  @Test
  void bindsOnlyToFinalStates() {
    assertEquals(
        List.of("task.succeeded", "task.cancelled", "task.expired", "task.rejected", "task.dead"),
        WaitTracker.FINAL_KEYS);
  }

  @Test
  void countsTheFirstFinalEventOfEachExpectedTask() throws Exception {
    WaitTracker tracker = new WaitTracker();
    tracker.expect("a");
    tracker.expect("b");
    tracker.expect("c");
    tracker.offer(event("a", TaskState.RUNNING));
    tracker.offer(event("a", TaskState.FAILED));
    tracker.offer(event("a", TaskState.REQUEUED));
    tracker.offer(event("a", TaskState.SUCCEEDED));
    tracker.offer(event("a", TaskState.SUCCEEDED)); // a redelivery's duplicate
    tracker.offer(event("someone-else", TaskState.DEAD));
    tracker.offer(event("b", TaskState.TIMED_OUT));
    tracker.offer(event("b", TaskState.DEAD, Cause.DEADLINE, "timed out"));
    tracker.offer(event("c", TaskState.CANCELLED, Cause.USER_STOP, null));

    List<TaskEvent> outcomes = new ArrayList<>();
    List<Integer> progress = new ArrayList<>();
    WaitTracker.Result r =
        tracker.await(Duration.ofMinutes(1), outcomes::add, p -> progress.add(p.finished()));

    assertEquals(List.of("a", "b", "c"), outcomes.stream().map(TaskEvent::task).toList());
    assertEquals(
        List.of(TaskState.SUCCEEDED, TaskState.DEAD, TaskState.CANCELLED),
        outcomes.stream().map(TaskEvent::state).toList());
    assertEquals(List.of(1, 2, 3), progress);
    assertEquals(
        new WaitTracker.Result(
            3,
            Map.of(TaskState.SUCCEEDED, 1, TaskState.DEAD, 1, TaskState.CANCELLED, 1),
            List.of()),
        r);
    assertFalse(r.allSucceeded());
    assertEquals(
        "waited 3 tasks: 1 succeeded, 1 cancelled, 1 dead (3.2 s)",
        r.summary(Duration.ofMillis(3210)));
  }

  @Test
  void theSummaryCountsEachFinalStateThenTheTasksWithoutOne() {
    assertEquals(
        "waited 12 tasks: 9 succeeded, 1 cancelled, 1 rejected, 1 dead (0.0 s)",
        new WaitTracker.Result(
                12,
                Map.of(
                    TaskState.DEAD, 1,
                    TaskState.REJECTED, 1,
                    TaskState.SUCCEEDED, 9,
                    TaskState.CANCELLED, 1),
                List.of())
            .summary(Duration.ofMillis(40)));
    assertEquals(
        "waited 1 task: 1 succeeded (61.5 s)",
        new WaitTracker.Result(1, Map.of(TaskState.SUCCEEDED, 1), List.of())
            .summary(Duration.ofMillis(61_500)));
    assertEquals(
        "waited 4 tasks: 1 expired, 3 without an outcome (5.0 s)",
        new WaitTracker.Result(4, Map.of(TaskState.EXPIRED, 1), List.of("a", "b", "c"))
            .summary(Duration.ofSeconds(5)));
  }

  @Test
  void ignoresOtherEvents() throws Exception {
    WaitTracker tracker = new WaitTracker();
    tracker.expect("a");
    tracker.offer(
        new Event.Worker(
            new WorkerEvent("w1", WorkerEvent.HEARTBEAT, Instant.now(), List.of("a"), "h", 1L)));
    tracker.offer(event("a", TaskState.SUCCEEDED));
    WaitTracker.Result r = tracker.await(Duration.ofMinutes(1), e -> {}, p -> {});
    assertTrue(r.allSucceeded());
  }

  @Test
  void aTimeoutNamesTheMissingTasksInPublishOrder() throws Exception {
    WaitTracker tracker = new WaitTracker();
    for (String id : List.of("z", "y", "x", "w")) {
      tracker.expect(id);
    }
    tracker.offer(event("y", TaskState.SUCCEEDED));
    WaitTracker.Result r = tracker.await(Duration.ofMillis(50), e -> {}, p -> {});
    assertEquals(List.of("z", "x", "w"), r.missing());
    assertEquals(1, r.succeeded());
    assertEquals(
        "waited 4 tasks: 1 succeeded, 3 without an outcome (0.1 s)",
        r.summary(Duration.ofMillis(50)));
  }

  @Test
  void eventsFromAnotherThreadEndTheWait() throws Exception {
    WaitTracker tracker = new WaitTracker();
    tracker.expect("a");
    tracker.expect("b");
    CompletableFuture<WaitTracker.Result> waiting =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return tracker.await(Duration.ofMinutes(1), e -> {}, p -> {});
              } catch (InterruptedException e) {
                throw new IllegalStateException(e);
              }
            });
    tracker.offer(event("b", TaskState.SUCCEEDED));
    tracker.offer(event("a", TaskState.SUCCEEDED));
    assertTrue(waiting.get().allSucceeded());
  }

  @Test
  void plainOutcomeIsOneLine() {
    assertEquals("a succeeded", PublishCommand.plain(event("a", TaskState.SUCCEEDED).event()));
    assertEquals(
        "b dead handler boom: at line 3",
        PublishCommand.plain(
            event("b", TaskState.DEAD, Cause.HANDLER, " boom:\n  at line 3\n").event()));
    assertEquals(
        "c cancelled user-stop",
        PublishCommand.plain(event("c", TaskState.CANCELLED, Cause.USER_STOP, null).event()));
  }
}
