package dev.conveyor.worker.ops;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class WorkerMetricsTest {

  /** The name and labels the README's metrics table gives. */
  @Test
  void droppedEventsAreCountedUnderTheDocumentedName() {
    WorkerMetrics metrics = new WorkerMetrics("w1");
    metrics.eventDropped();
    metrics.eventDropped();

    assertThat(metrics.scrape()).contains("conveyor_events_dropped_total{worker=\"w1\"} 2.0");
  }

  /**
   * The JVM's gauges cost a worker's start tens of milliseconds of JMX: bound only for a worker
   * that serves /metrics.
   */
  @Test
  void theJvmIsMeasuredOnlyOnceAsked() {
    WorkerMetrics metrics = new WorkerMetrics("w1");
    assertThat(metrics.scrape()).doesNotContain("jvm_").doesNotContain("process_cpu_usage");

    metrics.bindJvm();

    assertThat(metrics.scrape())
        .contains("jvm_memory_used_bytes", "jvm_threads_live_threads", "process_cpu_usage");
  }

  /** Each type, state and cause has a counter of its own; the same ones add up. */
  @Test
  void taskOutcomesAreCountedApartByTypeStateAndCause() {
    WorkerMetrics metrics = new WorkerMetrics("w1");
    metrics.taskEvent(event("a", TaskState.SUCCEEDED, null));
    metrics.taskEvent(event("a", TaskState.SUCCEEDED, null));
    metrics.taskEvent(event("b", TaskState.SUCCEEDED, null));
    metrics.taskEvent(event("a", TaskState.FAILED, null));
    metrics.taskEvent(event("a", TaskState.CANCELLED, Cause.USER_KILL));
    metrics.taskEvent(event("a", TaskState.CANCELLED, Cause.USER_STOP));
    metrics.taskEvent(event("a", TaskState.CANCELLED, Cause.USER_STOP));

    assertThat(metrics.scrape())
        .contains(finished("a", "succeeded", "none", 2))
        .contains(finished("b", "succeeded", "none", 1))
        .contains(finished("a", "failed", "none", 1))
        .contains(finished("a", "cancelled", "user-kill", 1))
        .contains(finished("a", "cancelled", "user-stop", 2));
  }

  /** A type the worker does not run is counted as unknown, however many a producer makes up. */
  @Test
  void typesTheWorkerDoesNotRunShareOneLabel() {
    WorkerMetrics metrics = new WorkerMetrics("w1");
    metrics.knownTypes(java.util.List.of("a"));
    metrics.taskEvent(event("a", TaskState.SUCCEEDED, null));
    for (int i = 0; i < 1_000; i++) {
      metrics.taskEvent(event("made-up-" + i, TaskState.REJECTED, null));
    }

    String scrape = metrics.scrape();
    assertThat(scrape)
        .contains(finished("a", "succeeded", "none", 1))
        .contains(finished("unknown", "rejected", "none", 1_000))
        .doesNotContain("made-up-");
  }

  private static TaskEvent event(String type, TaskState state, Cause cause) {
    return new TaskEvent(
        "t", type, state, "w1", 1, Instant.now(), 5L, cause, null, null, "default", null);
  }

  private static String finished(String type, String state, String cause, int count) {
    return "conveyor_tasks_finished_total{cause=\"%s\",state=\"%s\",type=\"%s\",worker=\"w1\"} %d.0"
        .formatted(cause, state, type, count);
  }

  @Test
  void execCleanupIsCountedUnderTheDocumentedNames() {
    String scrape = new WorkerMetrics("w1").scrape();

    assertThat(scrape)
        .contains("conveyor_exec_tree_walk_failures_total{worker=\"w1\"}")
        .contains("conveyor_exec_leftovers_total{of=\"task\",worker=\"w1\"}")
        .contains("conveyor_exec_leftovers_total{of=\"dead-worker\",worker=\"w1\"}");
  }

  @Test
  void childJvmsAreCountedUnderTheDocumentedNames() {
    WorkerMetrics metrics = new WorkerMetrics("w1");
    // Not started: its counters are zero, and it has no child to close.
    try (var pool =
        new dev.conveyor.worker.isolation.ChildPool(java.util.List.of("true"), 1, 0, null)) {
      metrics.children(pool);

      assertThat(metrics.scrape())
          .contains("conveyor_children_started_total{worker=\"w1\"} 0.0")
          .contains("conveyor_children_killed_total{worker=\"w1\"} 0.0")
          .contains("conveyor_children_crashed_total{worker=\"w1\"} 0.0")
          .contains("conveyor_children_spare{worker=\"w1\"} 0.0");
    }
  }
}
