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
}
