package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandRefused;
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

  private static StatusRound.Answer status(String worker) {
    return new StatusRound.Reply(
        new WorkerStatus(worker, "h", 1, List.of("default"), 1, false, null, List.of()));
  }

  private static StatusRound.Answer refusal(String worker) {
    return new StatusRound.Refusal(
        new CommandRefused("c", Command.STATUS, worker, "unsigned", null, null));
  }

  private static long millis(Runnable r) {
    long t0 = System.nanoTime();
    r.run();
    return (System.nanoTime() - t0) / 1_000_000;
  }

  @Test
  void withoutRepliesItWaitsTheWholeTimeout() {
    BlockingQueue<StatusRound.Answer> q = new LinkedBlockingQueue<>();
    long ms =
        millis(
            () ->
                assertTrue(
                    StatusRound.collect(
                            q, Set.of(), 0, Duration.ofMillis(300), Duration.ofMillis(50))
                        .statuses()
                        .isEmpty()));
    assertTrue(ms >= 290, "returned after " + ms + " ms");
  }

  @Test
  void itEndsOnceRepliesStopComingAndOrdersByWorker() {
    BlockingQueue<StatusRound.Answer> q =
        new LinkedBlockingQueue<>(List.of(status("w2"), status("w1")));
    long ms =
        millis(
            () -> {
              List<WorkerStatus> got =
                  StatusRound.collect(q, Set.of(), 0, Duration.ofSeconds(10), Duration.ofMillis(50))
                      .statuses();
              assertEquals(List.of("w1", "w2"), got.stream().map(WorkerStatus::worker).toList());
            });
    assertTrue(ms < 5000, "returned after " + ms + " ms");
  }

  @Test
  void itEndsAsSoonAsEveryNamedWorkerAnswered() {
    BlockingQueue<StatusRound.Answer> q = new LinkedBlockingQueue<>(List.of(status("w1")));
    long ms =
        millis(
            () ->
                assertEquals(
                    1,
                    StatusRound.collect(
                            q, Set.of("w1"), 0, Duration.ofSeconds(10), Duration.ofSeconds(10))
                        .statuses()
                        .size()));
    assertTrue(ms < 5000, "returned after " + ms + " ms");
  }

  @Test
  void aNamedWorkerThatAnswersAfterTheQuietWindowIsStillWaitedFor() throws Exception {
    BlockingQueue<StatusRound.Answer> q = new LinkedBlockingQueue<>(List.of(status("w1")));
    ScheduledExecutorService late = Executors.newSingleThreadScheduledExecutor();
    try {
      // w2 answers four quiet windows after w1.
      late.schedule(() -> q.add(status("w2")), 200, TimeUnit.MILLISECONDS);
      List<WorkerStatus> got =
          StatusRound.collect(
                  q, Set.of("w1", "w2"), 0, Duration.ofSeconds(10), Duration.ofMillis(50))
              .statuses();
      assertEquals(List.of("w1", "w2"), got.stream().map(WorkerStatus::worker).toList());
    } finally {
      late.shutdownNow();
    }
  }

  @Test
  void aRefusalIsAnAnswerTooAndIsKeptApart() {
    BlockingQueue<StatusRound.Answer> q =
        new LinkedBlockingQueue<>(List.of(status("w1"), refusal("s1")));
    long ms =
        millis(
            () -> {
              StatusRound.Result r =
                  StatusRound.collect(
                      q, Set.of("w1", "s1"), 0, Duration.ofSeconds(10), Duration.ofSeconds(10));
              assertEquals(List.of("w1"), r.statuses().stream().map(WorkerStatus::worker).toList());
              assertEquals(
                  List.of("s1"), r.refusals().stream().map(CommandRefused::worker).toList());
              assertEquals(List.of("w1", "s1"), r.answered());
            });
    assertTrue(ms < 5000, "returned after " + ms + " ms");
  }

  private static StatusRound.Answer status(String worker, String host, long pid) {
    return new StatusRound.Reply(
        new WorkerStatus(
            worker,
            host,
            pid,
            List.of("default"),
            1,
            false,
            java.time.Instant.parse("2026-01-01T00:00:00Z"),
            List.of()));
  }

  @Test
  void twoWorkersWithOneNameAreBothKeptAndTheSameReplyTwiceIsOne() {
    BlockingQueue<StatusRound.Answer> q =
        new LinkedBlockingQueue<>(
            List.of(
                status("dup", "h2", 2),
                status("w1", "h1", 1),
                status("dup", "h1", 7),
                status("dup", "h2", 2)));
    StatusRound.Result r =
        StatusRound.collect(q, Set.of(), 0, Duration.ofSeconds(10), Duration.ofMillis(50));
    assertEquals(
        List.of("dup h1 7", "dup h2 2", "w1 h1 1"),
        r.statuses().stream().map(s -> s.worker() + " " + s.host() + " " + s.pid()).toList());
    assertEquals(java.util.Set.of("dup"), r.duplicateNames());
  }

  /** Long enough that a round which waited for it would fail the test's own timeout. */
  private static final Duration HOUR = Duration.ofHours(1);

  /**
   * A round for every worker over the answers given, with an hour-long timeout: one that waited for
   * it would fail the test's own limit.
   */
  private static List<String> roundForEveryWorker(
      int listening, Duration quiet, StatusRound.Answer... answers) {
    BlockingQueue<StatusRound.Answer> q = new LinkedBlockingQueue<>(List.of(answers));
    return assertTimeoutPreemptively(
            Duration.ofSeconds(30), () -> StatusRound.collect(q, Set.of(), listening, HOUR, quiet))
        .answered();
  }

  @Test
  void aRoundForEveryWorkerEndsOnceAsManyAnsweredAsTheBrokerCountsListening() {
    assertEquals(List.of("w1", "s1"), roundForEveryWorker(2, HOUR, status("w1"), refusal("s1")));
  }

  @Test
  void answersAlreadyInWhenTheCountIsReachedAreKept() {
    assertEquals(
        List.of("w1", "w2", "w3"),
        roundForEveryWorker(2, HOUR, status("w1"), status("w2"), status("w3")));
  }

  @Test
  void aCountedWorkerThatDoesNotAnswerLeavesTheEndToTheQuietWindow() {
    assertEquals(
        List.of("w1", "w2"),
        roundForEveryWorker(3, Duration.ofMillis(50), status("w1"), status("w2")));
  }

  @Test
  void aCountDoesNotEndARoundForNamedWorkers() {
    BlockingQueue<StatusRound.Answer> q = new LinkedBlockingQueue<>(List.of(status("w1")));
    ScheduledExecutorService late = Executors.newSingleThreadScheduledExecutor();
    try {
      late.schedule(() -> q.add(status("w2")), 200, TimeUnit.MILLISECONDS);
      StatusRound.Result r =
          StatusRound.collect(q, Set.of("w1", "w2"), 1, Duration.ofSeconds(10), HOUR);
      assertEquals(List.of("w1", "w2"), r.answered());
    } finally {
      late.shutdownNow();
    }
  }
}
