package dev.conveyor.worker.execution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AckWindowTest {

  /** The frames written, as "tag" or "tag+" (multiple). */
  private final List<String> frames = new CopyOnWriteArrayList<>();

  private final ExecutorService threads = Executors.newCachedThreadPool();

  @AfterEach
  void stop() {
    threads.shutdownNow();
  }

  private final CountDownLatch writing = new CountDownLatch(1);
  private final CountDownLatch release = new CountDownLatch(1);

  /**
   * A window whose write of delivery 1 is held open until {@link #release}; writes of other tags
   * are recorded, or fail with {@code failure} if one is given.
   */
  private AckWindow heldOpenAtOne(IOException failure) {
    return new AckWindow(
        (tag, multiple) -> {
          if (tag == 1) {
            frames.add("1");
            writing.countDown();
            await(release);
            return;
          }
          if (failure != null) {
            throw failure;
          }
          frames.add(tag + (multiple ? "+" : ""));
        });
  }

  private AckWindow recording() {
    return new AckWindow((tag, multiple) -> frames.add(tag + (multiple ? "+" : "")));
  }

  @Test
  void anAckWithNothingElseWaitingIsWrittenAtOnceAndAlone() throws IOException {
    AckWindow w = recording();
    w.delivered(1);
    w.delivered(2);

    w.ack(2);
    w.ack(1);

    assertThat(frames).containsExactly("2", "1");
  }

  @Test
  void acksThatComeDuringAWriteGoOutTogetherUpToTheFirstDeliveryStillHeld() throws Exception {
    AckWindow w = heldOpenAtOne(null);
    for (long t = 1; t <= 6; t++) {
      w.delivered(t);
    }
    // The write of 1 is held open; 2, 3 and 5 are acked meanwhile; 4 is still running.
    Future<?> first = threads.submit(() -> ack(w, 1));
    assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue();
    List<Future<?>> waiting =
        List.of(
            threads.submit(() -> ack(w, 3)),
            threads.submit(() -> ack(w, 2)),
            threads.submit(() -> ack(w, 5)));
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> waitingThreads() == 3);
    assertThat(waiting).noneMatch(Future::isDone);

    release.countDown();
    first.get(10, TimeUnit.SECONDS);
    for (Future<?> f : waiting) {
      f.get(10, TimeUnit.SECONDS);
    }
    // 2 and 3 in one frame (everything up to 3 is settled); 5 alone, as 4 is still held.
    assertThat(frames).containsExactly("1", "3+", "5");

    w.ack(4);
    assertThat(frames).containsExactly("1", "3+", "5", "4");
  }

  @Test
  void aDeliveryHandedBackIsNeverCoveredByAMultipleAck() throws Exception {
    AckWindow w = heldOpenAtOne(null);
    for (long t = 1; t <= 4; t++) {
      w.delivered(t);
    }
    Future<?> first = threads.submit(() -> ack(w, 1));
    assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue();
    // 2 is held (its nack not yet written): 3 and 4 must be acked one by one.
    Future<?> three = threads.submit(() -> ack(w, 3));
    Future<?> four = threads.submit(() -> ack(w, 4));
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> waitingThreads() == 2);
    release.countDown();
    first.get(10, TimeUnit.SECONDS);
    three.get(10, TimeUnit.SECONDS);
    four.get(10, TimeUnit.SECONDS);

    assertThat(frames).hasSize(3).startsWith("1").contains("3", "4");
  }

  @Test
  void everyAckOfAFailedWriteHearsOfTheFailure() throws Exception {
    AckWindow w = heldOpenAtOne(new IOException("connection gone"));
    for (long t = 1; t <= 3; t++) {
      w.delivered(t);
    }
    Future<?> first = threads.submit(() -> ack(w, 1));
    assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue();
    Future<?> two = threads.submit(() -> ack(w, 2));
    Future<?> three = threads.submit(() -> ack(w, 3));
    Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> waitingThreads() == 2);
    release.countDown();
    first.get(10, TimeUnit.SECONDS);

    for (Future<?> f : List.of(two, three)) {
      assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS))
          .hasRootCauseInstanceOf(IOException.class)
          .hasRootCauseMessage("connection gone");
    }
  }

  @Test
  void anAckDuringAWriteReturnsAtOnceAndWhatFollowsItRunsOnTheWriterOnceWritten() throws Exception {
    AckWindow w = heldOpenAtOne(null);
    for (long t = 1; t <= 3; t++) {
      w.delivered(t);
    }
    Future<?> first = threads.submit(() -> ack(w, 1));
    assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue();
    List<String> after = new CopyOnWriteArrayList<>();
    List<Thread> ranOn = new CopyOnWriteArrayList<>();
    // These return while the write of 1 is still held open: nothing of theirs has run yet.
    w.ack(
        2,
        failure -> {
          after.add("2:" + failure);
          ranOn.add(Thread.currentThread());
        });
    w.ack(3, failure -> after.add("3:" + failure));
    assertThat(after).isEmpty();
    assertThat(frames).containsExactly("1");

    release.countDown();
    first.get(10, TimeUnit.SECONDS);
    // The writer of 1 wrote them too, in one frame, before running what follows each.
    assertThat(frames).containsExactly("1", "3+");
    assertThat(after).containsExactly("2:null", "3:null");
    assertThat(ranOn).doesNotContain(Thread.currentThread());
  }

  @Test
  void whatFollowsAFailedWriteHearsOfTheFailureAndOneThatThrowsStrandsNoOther() throws Exception {
    AckWindow w = heldOpenAtOne(new IOException("connection gone"));
    for (long t = 1; t <= 4; t++) {
      w.delivered(t);
    }
    Future<?> first = threads.submit(() -> ack(w, 1));
    assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue();
    List<String> after = new CopyOnWriteArrayList<>();
    w.ack(
        2,
        failure -> {
          throw new IllegalStateException("a settlement that broke");
        });
    w.ack(3, failure -> after.add("3:" + failure.getMessage()));
    release.countDown();
    first.get(10, TimeUnit.SECONDS);
    assertThat(after).containsExactly("3:connection gone");

    // The window is not left "writing": the next ack is written at once, on this thread.
    w.ack(4, failure -> after.add("4:" + failure.getMessage()));
    assertThat(after).containsExactly("3:connection gone", "4:connection gone");
  }

  /**
   * Threads of this test blocked in {@link AckWindow#ack} behind the write in progress (not the
   * writer, which is held in this test's {@link #await}).
   */
  private static long waitingThreads() {
    return Thread.getAllStackTraces().values().stream()
        .filter(stack -> has(stack, AckWindow.class, "ack"))
        .filter(stack -> !has(stack, AckWindowTest.class, "await"))
        .filter(stack -> has(stack, CompletableFuture.class, "get"))
        .count();
  }

  private static boolean has(StackTraceElement[] stack, Class<?> type, String method) {
    for (StackTraceElement f : stack) {
      if (f.getClassName().equals(type.getName()) && f.getMethodName().equals(method)) {
        return true;
      }
    }
    return false;
  }

  private static Void ack(AckWindow w, long tag) throws IOException {
    w.ack(tag);
    return null;
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // Gathering: a window with slack (prefetch 10 above concurrency 2: a run is 4 acks), a clock that
  // stands still, and flushes that run when the test lets the window pass.

  private static final long WINDOW = java.time.Duration.ofMillis(1).toNanos();

  private final java.util.concurrent.atomic.AtomicLong now =
      new java.util.concurrent.atomic.AtomicLong();
  private final List<Long> flushesAt = new CopyOnWriteArrayList<>();
  private final List<Runnable> flushes = new CopyOnWriteArrayList<>();

  private AckWindow gathering(int concurrency, int prefetch) {
    return gathering(
        concurrency,
        prefetch,
        (at, flush) -> {
          flushesAt.add(at);
          flushes.add(flush);
          return true;
        });
  }

  private AckWindow gathering(int concurrency, int prefetch, AckWindow.Flusher flusher) {
    return new AckWindow(
        (tag, multiple) -> frames.add(tag + (multiple ? "+" : "")),
        new AckWindow.Gathering(
            concurrency, prefetch, java.time.Duration.ofNanos(WINDOW), now::get, flusher));
  }

  /** The window passes: the clock moves on by it, and the flushes scheduled run. */
  private void timeUp() {
    now.addAndGet(WINDOW);
    List<Runnable> due = List.copyOf(flushes);
    flushes.clear();
    due.forEach(Runnable::run);
  }

  /**
   * Delivers 1 to {@code deliveries}; acks 1, written at once (nothing was written before: idle),
   * then {@code next}, just after that write: it gathers, and the ack returns. Returns {@code
   * next}'s settlement.
   */
  private CompletableFuture<Exception> ackOneThenGather(AckWindow w, int deliveries, long next)
      throws Exception {
    for (long t = 1; t <= deliveries; t++) {
      w.delivered(t);
    }
    w.ack(1);
    assertThat(frames).containsExactly("1");
    assertThat(flushesAt).isEmpty();
    CompletableFuture<Exception> settled = new CompletableFuture<>();
    w.ack(next, settled::complete);
    assertThat(settled).as("the ack of " + next + " gathers").isNotDone();
    assertThat(frames).containsExactly("1");
    return settled;
  }

  private CompletableFuture<Exception> ackOneThenGatherTwo(AckWindow w, int deliveries)
      throws Exception {
    return ackOneThenGather(w, deliveries, 2);
  }

  @Test
  void aBusyWindowWithSlackLetsAcksGatherUntilARunWaits() throws Exception {
    AckWindow w = gathering(2, 10);
    CompletableFuture<Exception> two = ackOneThenGatherTwo(w, 10);
    assertThat(flushesAt).as("a flush when the window ends").containsExactly(WINDOW);
    CompletableFuture<Exception> three = new CompletableFuture<>();
    CompletableFuture<Exception> four = new CompletableFuture<>();
    w.ack(3, three::complete);
    w.ack(4, four::complete);
    assertThat(frames).as("three acks wait; a run is four").containsExactly("1");
    assertThat(two).isNotDone();
    assertThat(flushesAt).as("one flush is enough").hasSize(1);

    CompletableFuture<Exception> five = new CompletableFuture<>();
    w.ack(5, five::complete); // the fourth: the run goes, written by this thread
    assertThat(frames).containsExactly("1", "5+");
    assertThat(java.util.Arrays.asList(two.get(), three.get(), four.get(), five.get()))
        .containsOnlyNulls();
    timeUp();
    assertThat(frames).as("the flush finds nothing left").containsExactly("1", "5+");
  }

  @Test
  void aGatheringEndsWhenNeitherTheDeliveriesHeldNorTheBrokersCreditWouldKeepEveryThreadBusy()
      throws Exception {
    AckWindow w = gathering(4, 8); // a run is 2 acks
    // 3 to 8 unsettled while 2 waits: more than the 4 threads
    CompletableFuture<Exception> two = ackOneThenGatherTwo(w, 8);
    w.settledOtherwise(3);
    assertThat(two).as("5 deliveries held: every thread has one").isNotDone();

    // 5 to 8 are left: no more than the 4 threads, and the broker may send only 3 more (8 less the
    // 4 held and the ack of 2 not yet written).
    w.settledOtherwise(4);
    assertThat(two).isCompletedWithValue(null);
    assertThat(frames).containsExactly("1", "2");
  }

  @Test
  void aGatheringGoesOnWhileTheBrokerHasCreditToKeepEveryThreadBusy() throws Exception {
    AckWindow w = gathering(2, 10);
    // Only 3 and 4 are held (no more than the 2 threads), but the broker may send 7 more.
    CompletableFuture<Exception> two = ackOneThenGatherTwo(w, 4);
    assertThat(two).isNotDone();
    timeUp();
    assertThat(two).isCompletedWithValue(null);
    assertThat(frames).containsExactly("1", "2");
  }

  @Test
  void anAckAboveADeliveryStillHeldWaitsForTheFrameThatCoversIt() throws Exception {
    AckWindow w = gathering(2, 10); // a run is 4 acks
    // 2 still runs on another thread while 3 to 6 end: a run, but all above 2.
    CompletableFuture<Exception> three = ackOneThenGather(w, 10, 3);
    for (long t = 4; t <= 6; t++) {
      w.ack(t, failure -> {});
    }
    assertThat(frames).as("nothing goes out alone").containsExactly("1");
    assertThat(three).isNotDone();

    w.ack(2);
    assertThat(three).isCompletedWithValue(null);
    assertThat(frames).containsExactly("1", "6+");
  }

  @Test
  void anAckAboveADeliveryStillHeldGoesAloneOnceItHasWaitedTheWindow() throws Exception {
    AckWindow w = gathering(2, 10);
    CompletableFuture<Exception> three = ackOneThenGather(w, 10, 3);
    timeUp(); // 2 still runs
    assertThat(three).isCompletedWithValue(null);
    assertThat(frames).containsExactly("1", "3");
  }

  @Test
  void aGatheringEndsWhenItsWindowHasPassed() throws Exception {
    AckWindow w = gathering(2, 10);
    CompletableFuture<Exception> two = ackOneThenGatherTwo(w, 10);
    timeUp();
    assertThat(two).isCompletedWithValue(null);
    assertThat(frames).containsExactly("1", "2");
  }

  @Test
  void withoutSlackEveryAckIsWrittenAtOnce() throws IOException {
    AckWindow w = gathering(4, 4);
    for (long t = 1; t <= 4; t++) {
      w.delivered(t);
    }
    w.ack(1);
    w.ack(2);
    w.ack(4);
    assertThat(frames).containsExactly("1", "2", "4");
    assertThat(flushesAt).as("prefetch = concurrency: no gathering").isEmpty();
  }

  @Test
  void aGatheringNeverHoldsTheThreadThatAcked() throws Exception {
    AckWindow w = gathering(1, 64); // one task thread, 63 deliveries waiting for it
    for (long t = 1; t <= 10; t++) {
      w.delivered(t);
    }
    w.ack(1);
    CompletableFuture<Exception> two = new CompletableFuture<>();
    Future<?> acking = threads.submit(() -> w.ack(2, two::complete));
    // The only task thread must go on to delivery 3 while the ack of 2 gathers.
    acking.get(10, TimeUnit.SECONDS);
    assertThat(frames).containsExactly("1");
    assertThat(two).isNotDone();
  }

  @Test
  void anAckItsCallerWaitsForDoesNotGather() throws Exception {
    AckWindow w = gathering(2, 10);
    CompletableFuture<Exception> two = ackOneThenGatherTwo(w, 10);
    // A rejected task's ack, say, on the consumer's thread: nobody may wait a window for it.
    Future<?> waiting =
        threads.submit(
            () -> {
              w.ack(4);
              return null;
            });
    waiting.get(10, TimeUnit.SECONDS);
    assertThat(frames).containsExactly("1", "2", "4");
    assertThat(two).isCompletedWithValue(null);
  }

  @Test
  void anUrgentAckDoesNotGatherAndTakesTheGatheredOnesAlong() throws Exception {
    AckWindow w = gathering(2, 10);
    CompletableFuture<Exception> two = ackOneThenGatherTwo(w, 10);
    // A killed task's ack, say: its event, which a user waits for, follows the ack.
    CompletableFuture<Exception> four = new CompletableFuture<>();
    w.ackUrgently(4, four::complete);
    assertThat(frames).containsExactly("1", "2", "4");
    assertThat(two).isCompletedWithValue(null);
    assertThat(four).isCompletedWithValue(null);
  }

  @Test
  void acksThatCannotWaitForAFlushGoAtOnce() throws Exception {
    AckWindow w = gathering(2, 10, (at, flush) -> false); // closing: nothing runs later
    for (long t = 1; t <= 10; t++) {
      w.delivered(t);
    }
    w.ack(1);
    CompletableFuture<Exception> three = new CompletableFuture<>();
    w.ack(3, three::complete); // above 2, which is still held, and too soon after 1
    assertThat(three).isCompletedWithValue(null);
    assertThat(frames).containsExactly("1", "3");
  }
}
