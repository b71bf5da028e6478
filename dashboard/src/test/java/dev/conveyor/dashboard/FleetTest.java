package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.protocol.wire.WorkerStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The dashboard's picture of the namespace, built from events alone. */
class FleetTest {

  private final SecurityChecksTest.TestClock clock = new SecurityChecksTest.TestClock();
  private final Fleet fleet = new Fleet(clock);

  private void task(String id, TaskState state, Cause cause) {
    fleet.accept(
        new Event.Task(
            new TaskEvent(
                id, "sleep", state, "w1", 1, clock.now, null, cause, null, "alice", "default",
                null)));
  }

  @Test
  void runningTasksComeAndGoWithTheirEvents() {
    long v = fleet.version();
    task("a", TaskState.RUNNING, null);
    task("b", TaskState.RUNNING, null);
    assertThat(fleet.version()).isGreaterThan(v);
    assertThat(fleet.running()).extracting(Fleet.TaskView::id).containsExactly("a", "b");
    assertThat(fleet.busy("w1")).isEqualTo(2);

    task("a", TaskState.CANCELLED, Cause.USER_STOP);
    assertThat(fleet.running()).extracting(Fleet.TaskView::id).containsExactly("b");
    assertThat(fleet.finished())
        .containsExactly(
            new Fleet.Finished("a", "sleep", "w1", "cancelled", "user-stop", clock.now));
    assertThat(fleet.search("a").events())
        .extracting(Fleet.EventView::state)
        .containsExactly("cancelled", "running");
    long[][] chart = fleet.chart();
    assertThat(chart[3][Fleet.CHART_SECONDS - 1]).isEqualTo(1); // cancelled, this second
    assertThat(chart[1][Fleet.CHART_SECONDS - 1]).isZero();
  }

  /**
   * A worker's list of running tasks with holes in it (a null entry, an entry without an id, as a
   * foreign client may send) threw out of the dashboard's event consumer; the rest is taken.
   */
  @Test
  void runningTasksWithoutAnIdAreLeftOut() {
    fleet.accept(
        new Event.Worker(
            new WorkerEvent(
                "w1", WorkerEvent.HEARTBEAT, clock.now, List.of("b"), "host", 42L, holes("b"))));
    fleet.status(
        new WorkerStatus(
            "w2", "host", 43L, List.of("default"), 4, false, clock.now, holes("c"), "thread"));

    assertThat(fleet.running()).extracting(Fleet.TaskView::id).containsExactly("b", "c");
  }

  /** A null entry, one without an id, and task {@code id}. */
  private java.util.List<WorkerStatus.RunningTask> holes(String id) {
    java.util.List<WorkerStatus.RunningTask> tasks = new java.util.ArrayList<>();
    tasks.add(null);
    tasks.add(new WorkerStatus.RunningTask(null, "spin", 1, clock.now, 1, null, "running", null));
    tasks.add(new WorkerStatus.RunningTask(id, "spin", 1, clock.now, 1, null, "running", null));
    return tasks;
  }

  @Test
  void aHeartbeatIsTheTruthAboutItsWorkerAsOfItsTime() {
    task("a", TaskState.RUNNING, null);
    Instant beat = clock.now.plusSeconds(1);
    clock.now = beat.plusSeconds(1);
    task("late", TaskState.RUNNING, null); // started after the heartbeat's picture
    fleet.accept(
        new Event.Worker(
            new WorkerEvent(
                "w1",
                WorkerEvent.HEARTBEAT,
                beat,
                List.of("b"),
                "host",
                42L,
                List.of(
                    new WorkerStatus.RunningTask(
                        "b", "spin", 2, beat, 1000, beat.plusSeconds(30), "stopping", 0.5)))));
    assertThat(fleet.running()).extracting(Fleet.TaskView::id).containsExactly("b", "late");
    Fleet.TaskView b = fleet.running().getFirst();
    assertThat(b.stage()).isEqualTo("stopping");
    assertThat(b.progress()).isEqualTo(0.5);
    assertThat(fleet.workers()).extracting(Fleet.WorkerView::pid).containsExactly(42L);

    fleet.status(
        new WorkerStatus(
            "w1", "host", 42, List.of("default", "emails"), 4, true, beat, List.of(), "process"));
    assertThat(fleet.workers().getFirst().concurrency()).isEqualTo(4);
    assertThat(fleet.workers().getFirst().paused()).isTrue();
    assertThat(fleet.workers().getFirst().isolation()).isEqualTo("process");
    assertThat(fleet.queues()).contains("default", "emails");

    clock.now = clock.now.plus(Duration.ofMinutes(2));
    fleet.forgetSilent(Duration.ofSeconds(60));
    assertThat(fleet.workers()).isEmpty();
    assertThat(fleet.running()).isEmpty();
  }

  @Test
  void commandsCollectTheirAcknowledgements() {
    ControlMessage m =
        new ControlMessage(
            "c1", Command.STOP, new Target.Tasks(List.of("a")), false, clock.now, "alice");
    fleet.sent(m);
    assertThat(fleet.commands().getFirst().answers()).isEmpty();
    fleet.accept(
        new Event.Applied(
            new CommandApplied(
                "c1", Command.STOP, "w1", List.of("a"), null, null, false, clock.now, "alice")));
    fleet.accept(
        new Event.Applied(
            new CommandApplied(
                "c1", Command.STOP, "w2", null, null, null, false, clock.now, "alice")));
    fleet.accept(
        new Event.Applied(
            new CommandApplied(
                "other", Command.STOP, "w3", List.of("x"), null, null, false, clock.now, "x")));
    assertThat(fleet.commands().getFirst().answers())
        .containsExactly(
            java.util.Map.entry("w1", "stopped a"), java.util.Map.entry("w2", "no task matched"));
  }
}
