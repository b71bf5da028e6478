package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.protocol.wire.WorkerStatus;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class StatusRoundTest {

  private static WorkerStatus status(String worker) {
    return new WorkerStatus(worker, "h", 1, List.of("default"), 1, false, null, List.of());
  }

  private static long millis(Runnable r) {
    long t0 = System.nanoTime();
    r.run();
    return (System.nanoTime() - t0) / 1_000_000;
  }

  @Test
  void withoutRepliesItWaitsTheWholeTimeout() {
    BlockingQueue<WorkerStatus> q = new LinkedBlockingQueue<>();
    long ms =
        millis(
            () ->
                assertTrue(
                    StatusRound.collect(q, Set.of(), Duration.ofMillis(300), Duration.ofMillis(50))
                        .isEmpty()));
    assertTrue(ms >= 290, "returned after " + ms + " ms");
  }

  @Test
  void itEndsOnceRepliesStopComingAndOrdersByWorker() {
    BlockingQueue<WorkerStatus> q = new LinkedBlockingQueue<>(List.of(status("w2"), status("w1")));
    long ms =
        millis(
            () -> {
              List<WorkerStatus> got =
                  StatusRound.collect(q, Set.of(), Duration.ofSeconds(10), Duration.ofMillis(50));
              assertEquals(List.of("w1", "w2"), got.stream().map(WorkerStatus::worker).toList());
            });
    assertTrue(ms < 5000, "returned after " + ms + " ms");
  }

  @Test
  void itEndsAsSoonAsEveryNamedWorkerAnswered() {
    BlockingQueue<WorkerStatus> q = new LinkedBlockingQueue<>(List.of(status("w1")));
    long ms =
        millis(
            () ->
                assertEquals(
                    1,
                    StatusRound.collect(
                            q, Set.of("w1"), Duration.ofSeconds(10), Duration.ofSeconds(10))
                        .size()));
    assertTrue(ms < 5000, "returned after " + ms + " ms");
  }

  @Test
  void aNamedWorkerThatAnswersAfterTheQuietWindowIsStillWaitedFor() throws Exception {
    BlockingQueue<WorkerStatus> q = new LinkedBlockingQueue<>(List.of(status("w1")));
    ScheduledExecutorService late = Executors.newSingleThreadScheduledExecutor();
    try {
      // w2 answers four quiet windows after w1.
      late.schedule(() -> q.add(status("w2")), 200, TimeUnit.MILLISECONDS);
      List<WorkerStatus> got =
          StatusRound.collect(q, Set.of("w1", "w2"), Duration.ofSeconds(10), Duration.ofMillis(50));
      assertEquals(List.of("w1", "w2"), got.stream().map(WorkerStatus::worker).toList());
    } finally {
      late.shutdownNow();
    }
  }
}
