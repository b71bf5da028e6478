package dev.conveyor.worker.execution;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.testkit.ManualScheduler;
import dev.conveyor.worker.api.TaskHandler;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Deadlines on a manual clock: each step is checked at its exact due time and just before it. */
class WatchdogTest {

  private static final Duration KILL_GRACE = Duration.ofSeconds(5);
  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration DEFAULT_GRACE = Duration.ofSeconds(4);
  private static final Duration MS = Duration.ofMillis(1);

  private final ManualScheduler timer = new ManualScheduler();
  private final List<Stage> steps = new CopyOnWriteArrayList<>();
  private final EscalationLadder ladder =
      new EscalationLadder(timer, KILL_GRACE, run -> {}, (stage, ending) -> steps.add(stage));
  private final TaskThreads threads = new TaskThreads(1, 1, "watchdog-test-task");

  @AfterEach
  void close() throws InterruptedException {
    threads.shutdownNow();
    assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  private Watchdog watchdog(Optional<Duration> defaultTimeout) {
    return new Watchdog(timer, ladder, defaultTimeout, DEFAULT_GRACE);
  }

  private static TaskRun run(Long timeoutMs, Long graceMs, TaskHandler handler) {
    return new TaskRun(
        new TaskMessage("t", "x", null, timeoutMs, graceMs, 1, null, null),
        new Lease(null, 1, "default", new AMQP.BasicProperties(), new byte[0], new LeaseScope()),
        1,
        handler);
  }

  /** A run whose handler is "running" on a thread that is never interrupted for real. */
  private static TaskRun started(Long timeoutMs, Long graceMs, AtomicInteger killHookRuns) {
    TaskRun run = run(timeoutMs, graceMs, null);
    run.start(new Thread(() -> {}), null);
    run.onKill(killHookRuns::incrementAndGet);
    return run;
  }

  @Test
  void theDeadlineStopsAtTimeoutAndKillsAtTimeoutPlusGraceNotBefore() {
    timer.advance(Duration.ofMillis(12_345)); // the clock starts at the task's start, not at 0
    AtomicInteger killed = new AtomicInteger();
    TaskRun run = started(1_000L, 300L, killed);
    assertThat((Object) watchdog(Optional.of(DEFAULT_TIMEOUT)).arm(run)).isNotNull();

    timer.advance(Duration.ofMillis(999));
    assertThat(run.stage()).isEqualTo(Stage.RUNNING);
    assertThat(run.token().isCancelled()).isFalse();
    assertThat(run.ending()).isNull();

    timer.advance(MS);
    assertThat(run.stage()).isEqualTo(Stage.STOPPING);
    assertThat(run.token().isCancelled()).isTrue();
    assertThat(run.ending()).isEqualTo(Ending.deadline());
    assertThat(killed).hasValue(0);

    timer.advance(Duration.ofMillis(299));
    assertThat(run.stage()).isEqualTo(Stage.STOPPING);
    assertThat(killed).hasValue(0);

    timer.advance(MS);
    assertThat(run.stage()).isEqualTo(Stage.KILLING);
    assertThat(killed).hasValue(1);
    assertThat(steps).containsExactly(Stage.STOPPING, Stage.KILLING);
  }

  @Test
  void theDefaultTimeoutAndGraceApplyWhenTheTaskSetsNone() {
    AtomicInteger killed = new AtomicInteger();
    TaskRun run = started(null, null, killed);
    Watchdog watchdog = watchdog(Optional.of(DEFAULT_TIMEOUT));
    assertThat(watchdog.timeoutOf(run)).contains(DEFAULT_TIMEOUT);
    assertThat(watchdog.graceOf(run)).isEqualTo(DEFAULT_GRACE);
    watchdog.arm(run);

    timer.advance(DEFAULT_TIMEOUT.minus(MS));
    assertThat(run.stage()).isEqualTo(Stage.RUNNING);
    timer.advance(MS);
    assertThat(run.stage()).isEqualTo(Stage.STOPPING);
    timer.advance(DEFAULT_GRACE.minus(MS));
    assertThat(run.stage()).isEqualTo(Stage.STOPPING);
    assertThat(killed).hasValue(0);
    timer.advance(MS);
    assertThat(run.stage()).isEqualTo(Stage.KILLING);
    assertThat(killed).hasValue(1);
  }

  @Test
  void aTasksOwnTimeoutAndGraceWinOverTheDefaults() {
    AtomicInteger killed = new AtomicInteger();
    TaskRun run = started(50L, 10L, killed);
    watchdog(Optional.of(DEFAULT_TIMEOUT)).arm(run);
    timer.advance(Duration.ofMillis(49));
    assertThat(run.stage()).isEqualTo(Stage.RUNNING);
    timer.advance(MS);
    assertThat(run.stage()).isEqualTo(Stage.STOPPING);
    timer.advance(Duration.ofMillis(10));
    assertThat(run.stage()).isEqualTo(Stage.KILLING);
  }

  /**
   * A timeout or grace too long to count in nanoseconds (over about 292 years; a task's {@code
   * timeoutMs} may be up to {@link Long#MAX_VALUE}) is never reached: it neither fails the task nor
   * falls due at once.
   */
  @Test
  void aTimeoutOrGraceTooLongToCountIsNeverReached() {
    AtomicInteger killed = new AtomicInteger();
    TaskRun ages = started(Long.MAX_VALUE, null, killed);
    assertThat((Object) watchdog(Optional.empty()).arm(ages)).isNotNull();
    TaskRun graceful = started(1_000L, Long.MAX_VALUE, killed);
    assertThat((Object) watchdog(Optional.empty()).arm(graceful)).isNotNull();

    timer.advance(Duration.ofMillis(1_000));
    assertThat(graceful.stage()).isEqualTo(Stage.STOPPING);
    timer.advance(Duration.ofDays(365 * 200));
    assertThat(ages.stage()).isEqualTo(Stage.RUNNING);
    assertThat(ages.token().isCancelled()).isFalse();
    assertThat(graceful.stage()).isEqualTo(Stage.STOPPING);
    assertThat(killed).hasValue(0);
  }

  @Test
  void aTaskWithoutTimeoutIsNeverStopped() {
    AtomicInteger killed = new AtomicInteger();
    TaskRun run = started(null, null, killed);
    Watchdog watchdog = watchdog(Optional.empty());
    assertThat(watchdog.timeoutOf(run)).isEmpty();
    assertThat(watchdog.deadlineFromNow(run)).isNull();
    assertThat((Object) watchdog.arm(run)).isNull();
    assertThat(timer.pending()).isZero();

    timer.advance(Duration.ofDays(365));
    assertThat(run.stage()).isEqualTo(Stage.RUNNING);
    assertThat(run.token().isCancelled()).isFalse();
    assertThat(killed).hasValue(0);
    assertThat(steps).isEmpty();
  }

  /** Through the real runner: the handler returns before its deadline, whose timer goes. */
  @Test
  void aTaskThatEndsBeforeItsDeadlineIsNotStopped() throws Exception {
    AtomicInteger killed = new AtomicInteger();
    TaskRun run =
        run(
            1_000L,
            100L,
            handler(
                ctx -> {
                  ctx.onKill(killed::incrementAndGet);
                  return "ok";
                }));
    Settled settled = new Settled();
    new TaskRunner(threads.tasks(), watchdog(Optional.empty()), r -> {}, settled).submit(run);

    assertThat(settled.await()).isEqualTo(new Outcome.Succeeded("ok"));
    assertThat(timer.pending()).as("the armed deadline was cancelled").isZero();
    timer.advance(Duration.ofHours(1));
    assertThat(run.stage()).isEqualTo(Stage.RUNNING);
    assertThat(run.token().isCancelled()).isFalse();
    assertThat(run.ending()).isNull();
    assertThat(killed).hasValue(0);
    assertThat(steps).isEmpty();
  }

  /** Through the real runner: a handler that waits on its token is timed out by its deadline. */
  @Test
  void aTaskStillRunningAtItsDeadlineIsStoppedAndTimesOut() throws Exception {
    CountDownLatch armed = new CountDownLatch(1);
    TaskRun run =
        run(
            1_000L,
            100L,
            handler(
                ctx -> {
                  // The test's clock is manual: only the deadline can end this wait.
                  while (!ctx.token().await(Duration.ofSeconds(1))) {}
                  ctx.token().throwIfCancelled();
                  return "not stopped";
                }));
    Settled settled = new Settled();
    new TaskRunner(threads.tasks(), watchdog(Optional.empty()), r -> armed.countDown(), settled)
        .submit(run);
    assertThat(armed.await(10, TimeUnit.SECONDS)).isTrue();

    timer.advance(Duration.ofMillis(999));
    assertThat(run.token().isCancelled()).isFalse();
    timer.advance(MS);
    assertThat(settled.await()).isEqualTo(new Outcome.TimedOut("timeout"));
    assertThat(steps).containsExactly(Stage.STOPPING);
    timer.advance(Duration.ofMillis(100));
    assertThat(steps).as("no kill for a task that ended").containsExactly(Stage.STOPPING);
  }

  private interface Body {
    Object handle(dev.conveyor.worker.api.TaskContext ctx) throws Exception;
  }

  private static TaskHandler handler(Body body) {
    return new TaskHandler() {
      @Override
      public String type() {
        return "x";
      }

      @Override
      public Object handle(dev.conveyor.worker.api.TaskContext ctx) throws Exception {
        return body.handle(ctx);
      }
    };
  }

  /**
   * A task that ends before its deadline leaves nothing behind in the timer: at a few thousand
   * short tasks a second with an hour's timeout, a cancelled deadline kept until its due time would
   * hold millions of finished tasks, payloads and all.
   */
  @Test
  void aDeadlineCancelledAtTheTasksEndLeavesTheTimer() throws InterruptedException {
    ScheduledThreadPoolExecutor real =
        (ScheduledThreadPoolExecutor) Watchdog.newTimer(r -> new Thread(r, "watchdog-test-timer"));
    try {
      Watchdog hourly =
          new Watchdog(
              real,
              new EscalationLadder(real, KILL_GRACE, run -> {}, (stage, ending) -> {}),
              Optional.of(Duration.ofHours(1)),
              DEFAULT_GRACE);
      for (int i = 0; i < 1_000; i++) {
        TaskRun run = started(null, null, new AtomicInteger());
        ScheduledFuture<?> deadline = hourly.arm(run);
        assertThat((Object) deadline).isNotNull();
        deadline.cancel(false); // what TaskRunner does when the handler returns
      }
      assertThat(real.getQueue()).isEmpty();
    } finally {
      real.shutdownNow();
      assertThat(real.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
  }

  /** The settle callback: records the one outcome. */
  private static final class Settled implements java.util.function.BiConsumer<TaskRun, Outcome> {
    private final java.util.concurrent.CompletableFuture<Outcome> outcome =
        new java.util.concurrent.CompletableFuture<>();
    private final AtomicInteger calls = new AtomicInteger();

    @Override
    public void accept(TaskRun run, Outcome o) {
      calls.incrementAndGet();
      outcome.complete(o);
    }

    Outcome await() throws Exception {
      Outcome o = outcome.get(10, TimeUnit.SECONDS);
      assertThat(calls).hasValue(1);
      return o;
    }
  }
}
