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
}
