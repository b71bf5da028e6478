package dev.conveyor.worker.execution;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.testkit.ManualScheduler;
import dev.conveyor.testkit.SpinBarrier;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The ladder on a manual clock: no real time passes, every step is checked as it happens. */
class EscalationLadderTest {

  private static final Duration KILL_GRACE = Duration.ofSeconds(5);
  private static final Ending USER_STOP = new Ending(Cause.USER_STOP, false, "me");
  private static final Ending USER_KILL = new Ending(Cause.USER_KILL, false, "me");

  private final ManualScheduler timer = new ManualScheduler();
  private final List<TaskRun> stuck = new CopyOnWriteArrayList<>();
  private final Map<Stage, AtomicInteger> steps = new ConcurrentHashMap<>();
  private final EscalationLadder ladder =
      new EscalationLadder(
          timer,
          KILL_GRACE,
          stuck::add,
          (stage, ending) ->
              steps.computeIfAbsent(stage, s -> new AtomicInteger()).incrementAndGet());
  private final ExecutorService racers = Executors.newFixedThreadPool(2);

  @AfterEach
  void close() {
    racers.shutdownNow();
  }

  private static TaskRun started() {
    TaskRun run = TaskRunnerTest.run("t", "x");
    run.start(new Thread(() -> {}), null);
    return run;
  }

  private int count(Stage stage) {
    AtomicInteger n = steps.get(stage);
    return n == null ? 0 : n.get();
  }

  /**
   * A stopped task that ends within its grace takes its pending kill out of the timer: a grace the
   * producer set long would otherwise hold every such task, payload and all, until it ran out.
   */
  @Test
  void aTaskThatEndsWithinItsGraceLeavesNoKillInTheTimer() throws InterruptedException {
    java.util.concurrent.ScheduledThreadPoolExecutor real =
        (java.util.concurrent.ScheduledThreadPoolExecutor)
            Watchdog.newTimer(r -> new Thread(r, "ladder-test-timer"));
    try {
      EscalationLadder onRealTimer =
          new EscalationLadder(real, KILL_GRACE, stuck::add, (stage, ending) -> {});
      for (int i = 0; i < 100; i++) {
        TaskRun run = started();
        assertThat(onRealTimer.stop(run, USER_STOP, Duration.ofHours(1))).isTrue();
        run.handlerEnded(); // the handler honoured the stop
      }
      TaskRun late = started();
      late.handlerEnded(); // ended just before the stop came
      assertThat(onRealTimer.stop(late, USER_STOP, Duration.ofHours(1))).isFalse();
      assertThat(real.getQueue()).isEmpty();
    } finally {
      real.shutdownNow();
      assertThat(real.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    }
  }

  /**
   * The handler may end between the stop's look at the run and its scheduling of the kill: the kill
   * handed over after the end is cancelled at once.
   */
  @Test
  void aKillScheduledAfterTheHandlerEndedIsCancelledAtOnce() {
    TaskRun run = started();
    run.handlerEnded();
    java.util.concurrent.CompletableFuture<Void> kill =
        new java.util.concurrent.CompletableFuture<>();

    run.pendingKill(kill);

    assertThat(kill).isCancelled();
  }

  @Test
  void aStopEscalatesToAKillAfterItsGraceAndThenToStuck() {
    TaskRun run = started();
    assertThat(ladder.stop(run, Ending.deadline(), Duration.ofSeconds(2))).isTrue();
    assertThat(run.stage()).isEqualTo(Stage.STOPPING);
    assertThat(run.token().isCancelled()).isTrue();

    timer.advance(Duration.ofMillis(1999));
    assertThat(run.stage()).isEqualTo(Stage.STOPPING);
    timer.advance(Duration.ofMillis(1));
    assertThat(run.stage()).isEqualTo(Stage.KILLING);

    timer.advance(KILL_GRACE.minusMillis(1));
    assertThat(stuck).isEmpty();
    timer.advance(Duration.ofMillis(1));
    assertThat(run.stage()).isEqualTo(Stage.STUCK);
    assertThat(stuck).containsExactly(run);
    assertThat(count(Stage.STOPPING)).isOne();
    assertThat(count(Stage.KILLING)).isOne();
    assertThat(count(Stage.STUCK)).isOne();
  }

  @Test
  void aTaskThatEndsWithinTheKillGraceIsNotStuck() {
    TaskRun run = started();
    ladder.kill(run, USER_KILL);
    run.handlerEnded();
    timer.advance(KILL_GRACE);
    assertThat(stuck).isEmpty();
    assertThat(run.stage()).isEqualTo(Stage.KILLING);
  }

  @Test
  void theStageNeverMovesBackwards() {
    TaskRun run = started();
    ladder.kill(run, USER_KILL);
    ladder.stop(run, USER_STOP, Duration.ofSeconds(1));
    assertThat(run.stage()).isEqualTo(Stage.KILLING);
    timer.advance(Duration.ofSeconds(1));
    assertThat(count(Stage.KILLING)).isOne();
    assertThat(count(Stage.STOPPING)).isZero();
  }

  @Test
  void aSecondKillStartsNoSecondStuckTimer() {
    TaskRun run = started();
    ladder.kill(run, USER_KILL);
    ladder.kill(run, USER_KILL);
    ladder.kill(List.of(run), Ending.shutdown());
    assertThat(timer.pending()).isOne();
    assertThat(count(Stage.KILLING)).isOne();
  }

  @Test
  void aKillHookRegisteredAfterTheKillRunsAtOnce() {
    TaskRun run = started();
    AtomicInteger before = new AtomicInteger();
    AtomicInteger after = new AtomicInteger();
    run.onKill(before::incrementAndGet);
    ladder.kill(run, USER_KILL);
    run.onKill(after::incrementAndGet);
    ladder.kill(run, USER_KILL);
    assertThat(before).hasValue(1);
    assertThat(after).hasValue(1);
  }

  @Test
  void aFinishedTaskIsNeitherStoppedNorKilled() {
    TaskRun run = started();
    AtomicInteger hook = new AtomicInteger();
    run.onKill(hook::incrementAndGet);
    run.handlerEnded();
    assertThat(ladder.stop(run, USER_STOP, Duration.ofSeconds(1))).isFalse();
    assertThat(ladder.kill(run, USER_KILL)).isFalse();
    timer.advance(Duration.ofMinutes(1));
    assertThat(hook).hasValue(0);
    assertThat(steps).isEmpty();
  }

  @Test
  void anInterruptNeverReachesTheThreadAfterItsHandlerEnded() {
    TaskRun run = TaskRunnerTest.run("t", "x");
    run.start(Thread.currentThread(), null);
    run.handlerEnded();
    ladder.kill(run, USER_KILL);
    assertThat(Thread.interrupted()).isFalse();
  }

  /**
   * Two of stop, kill and a kill of several tasks race on one task, thousands of times, while the
   * task registers a kill hook: each step is taken (and counted) once, the stage ends at the
   * furthest step, the kill hook runs exactly once whether it was registered before or after the
   * kill, and one stuck timer is started.
   */
  @Test
  void racingStopsAndKillsTakeEachStepOnce() throws Exception {
    for (int i = 0; i < 10_000; i++) {
      steps.clear();
      TaskRun run = started();
      AtomicInteger hookRuns = new AtomicInteger();
      SpinBarrier go = new SpinBarrier(2, Duration.ofMillis(1));
      boolean stopFirst = i % 2 == 0;
      Future<?> one =
          racers.submit(
              () -> {
                go.await();
                run.onKill(hookRuns::incrementAndGet);
                return stopFirst
                    ? ladder.stop(run, USER_STOP, null)
                    : ladder.kill(List.of(run), Ending.shutdown());
              });
      Future<?> two =
          racers.submit(
              () -> {
                go.await();
                return ladder.kill(run, USER_KILL);
              });
      one.get();
      two.get();
      assertThat(run.stage()).as("round %d", i).isEqualTo(Stage.KILLING);
      assertThat(count(Stage.KILLING)).as("kills counted, round %d", i).isOne();
      assertThat(count(Stage.STOPPING)).as("stops counted, round %d", i).isLessThanOrEqualTo(1);
      assertThat(hookRuns).as("kill hook runs, round %d", i).hasValue(1);
      assertThat(timer.pending()).as("stuck timers, round %d", i).isOne();
      run.handlerEnded();
      timer.advance(KILL_GRACE);
      assertThat(stuck).isEmpty();
    }
  }
}
