package dev.conveyor.worker.ops;

import static org.assertj.core.api.Assertions.assertThat;

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
