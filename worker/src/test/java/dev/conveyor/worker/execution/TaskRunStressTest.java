package dev.conveyor.worker.execution;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.testkit.ManualScheduler;
import dev.conveyor.testkit.SpinBarrier;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * One task at a time, thousands of times, through the real {@link TaskRunner} on real task threads,
 * while two racers end it every way the worker can (stop, kill, kill on shutdown, lease loss,
 * deadline) and its handler ends on its own within microseconds. Timers run on a {@link
 * ManualScheduler}: the deadline fires when a racer moves the clock, never by real time.
 */
class TaskRunStressTest {

  private static final int ROUNDS = 5_000;
  private static final Duration TIMEOUT = Duration.ofSeconds(1);
  private static final Duration GRACE = Duration.ofMillis(200);
  private static final Duration KILL_GRACE = Duration.ofSeconds(5);
  private static final Ending USER_STOP = new Ending(Cause.USER_STOP, false, "me");
  private static final Ending USER_KILL = new Ending(Cause.USER_KILL, false, "me");

  private enum Action {
    STOP,
    KILL,
    SHUTDOWN_KILL,
    LEASE_LOST,
    DEADLINE
  }

  private final TaskThreads taskThreads = new TaskThreads(2, 1, "stress-task");
  private final ExecutorService racers = Executors.newFixedThreadPool(2, named("stress-racer"));

  @AfterEach
  void close() throws InterruptedException {
    taskThreads.shutdownNow();
    racers.shutdownNow();
    assertThat(taskThreads.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    assertThat(racers.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void everyRaceSettlesOnceWithAConsistentOutcomeAndNoStrayInterrupt() throws Exception {
    long seed = System.nanoTime();
    SplittableRandom random = new SplittableRandom(seed);
    java.util.Map<String, Integer> seen = new java.util.HashMap<>();
    for (int i = 0; i < ROUNDS; i++) {
      Action a = Action.values()[random.nextInt(Action.values().length)];
      Action b = Action.values()[random.nextInt(Action.values().length)];
      // One round in eight, the racers do not wait for the handler: they race its start.
      boolean early = random.nextInt(8) == 0;
      long spin = random.nextLong(10_000);
      Round round =
          new Round(
              "round "
                  + i
                  + " (seed "
                  + seed
                  + ", "
                  + a
                  + " vs "
                  + b
                  + (early ? ", early" : "")
                  + ")",
              spin,
              early);
      // The racers' delays span the handler's run, so that many land just as it ends.
      round.play(a, b, random.nextLong(spin + 3_000), random.nextLong(spin + 3_000));
      seen.merge(round.summary(), 1, Integer::sum);
    }
    System.out.println("TaskRunStressTest seed " + seed + ": " + new java.util.TreeMap<>(seen));
  }

  /** One task, its racers and everything they saw. */
  private final class Round {
    final String name;
    final long handlerSpinNanos;
    final boolean early;
    final ManualScheduler timer = new ManualScheduler();
    final LeaseScope scope = new LeaseScope();
    final TaskRun run;
    final EscalationLadder ladder;
    final SpinBarrier go;

    final Queue<String> problems = new ConcurrentLinkedQueue<>();
    final List<Stage> samples = new ArrayList<>();
    final Set<Cause> causesAsked = EnumSet.noneOf(Cause.class);
    final AtomicInteger settlements = new AtomicInteger();
    final AtomicInteger hookRuns = new AtomicInteger();
    final AtomicBoolean killTookEffect = new AtomicBoolean();
    volatile boolean hookRegistered;
    volatile boolean handlerReturned;
    volatile boolean handlerThrew;
    volatile Outcome outcome;

    Round(String name, long handlerSpinNanos, boolean early) {
      this.name = name;
      this.handlerSpinNanos = handlerSpinNanos;
      this.early = early;
      this.go = new SpinBarrier(early ? 2 : 3, Duration.ofNanos(200_000));
      this.run =
          new TaskRun(
              new TaskMessage(
                  "t", "spin", null, TIMEOUT.toMillis(), GRACE.toMillis(), 1, null, null),
              new Lease(null, 1, "default", new AMQP.BasicProperties(), new byte[0], scope),
              1,
              handler());
      this.ladder =
          new EscalationLadder(
              timer,
              KILL_GRACE,
              stuck -> problems.add("declared stuck"),
              (stage, ending) -> {
                Stage now = sample();
                if (now.compareTo(stage) < 0) {
                  problems.add("step " + stage + " told while the task was at " + now);
                }
              });
    }

    String summary() {
      return outcome.getClass().getSimpleName()
          + (handlerReturned ? "/returned" : handlerThrew ? "/threw" : "/never-ran")
          + (hookRuns.get() > 0 ? "/hook" : "");
    }

    Stage sample() {
      synchronized (samples) {
        Stage s = run.stage();
        samples.add(s);
        return s;
      }
    }

    TaskHandler handler() {
      return new TaskHandler() {
        @Override
        public String type() {
          return "spin";
        }

        @Override
        public Object handle(TaskContext ctx) throws Exception {
          if (Thread.currentThread().isInterrupted() && run.stage().compareTo(Stage.KILLING) < 0) {
            problems.add("handler started with an interrupt no kill of its own sent");
          }
          ctx.onKill(hookRuns::incrementAndGet);
          hookRegistered = true;
          sample();
          if (!early) {
            go.await();
          }
          long until = System.nanoTime() + handlerSpinNanos;
          try {
            while (System.nanoTime() < until) {
              ctx.token().throwIfCancelled();
              if (Thread.interrupted()) {
                throw new InterruptedException("killed");
              }
              Thread.onSpinWait();
            }
          } catch (Exception e) {
            sample();
            handlerThrew = true;
            throw e;
          }
          sample();
          handlerReturned = true;
          return "done";
        }
      };
    }

    void settle(TaskRun r, Outcome o) {
      if (Thread.currentThread().isInterrupted()) {
        problems.add("settle began with its thread interrupted");
      }
      settlements.incrementAndGet();
      outcome = o;
      sample();
      // The settler waits for a confirm here; a late interrupt would break that wait.
      long until = System.nanoTime() + 2_000;
      while (System.nanoTime() < until) {
        Thread.onSpinWait();
      }
      if (Thread.currentThread().isInterrupted()) {
        problems.add("settle's thread was interrupted while it settled");
      }
      if (r.claimSettlement()) {
        r.completed(o);
      }
    }

    Object act(Action action, long delayNanos) {
      go.await();
      long until = System.nanoTime() + delayNanos;
      while (System.nanoTime() < until) {
        Thread.onSpinWait();
      }
      sample();
      switch (action) {
        case STOP -> {
          causesAsked(Cause.USER_STOP);
          ladder.stop(run, USER_STOP, GRACE);
        }
        case KILL -> {
          causesAsked(Cause.USER_KILL);
          if (ladder.kill(run, USER_KILL)) {
            killTookEffect.set(true);
          }
        }
        case SHUTDOWN_KILL -> {
          causesAsked(Cause.SHUTDOWN);
          if (!ladder.kill(List.of(run), Ending.shutdown()).isEmpty()) {
            killTookEffect.set(true);
          }
        }
        case LEASE_LOST -> {
          causesAsked(Cause.CONNECTION_LOST);
          // As the worker writes off a lost consumer's leases.
          scope.markLost(true);
          ladder.stop(run, Ending.connectionLost(), GRACE);
        }
        case DEADLINE -> {
          causesAsked(Cause.DEADLINE);
          // The deadline's stop and, a grace later, its kill (only if the task was armed).
          timer.advance(TIMEOUT.plus(GRACE));
        }
      }
      sample();
      return null;
    }

    void causesAsked(Cause c) {
      synchronized (causesAsked) {
        causesAsked.add(c);
      }
    }

    void play(Action a, Action b, long delayA, long delayB) throws Exception {
      TaskRunner runner =
          new TaskRunner(
              taskThreads.tasks(),
              new Watchdog(timer, ladder, Optional.empty(), GRACE),
              r -> sample(),
              this::settle);
      List<Future<?>> racing = new ArrayList<>(2);
      if (early) {
        racing.add(racers.submit(() -> act(a, delayA)));
        racing.add(racers.submit(() -> act(b, delayB)));
        runner.submit(run);
      } else {
        runner.submit(run);
        racing.add(racers.submit(() -> act(a, delayA)));
        racing.add(racers.submit(() -> act(b, delayB)));
      }
      Outcome done = run.done().get(10, TimeUnit.SECONDS);
      for (Future<?> f : racing) {
        f.get(10, TimeUnit.SECONDS);
      }
      // Whatever the racers left on the clock (kills after a stop's grace, stuck checks) falls due.
      timer.advance(Duration.ofHours(1));
      check(done);
    }

    void check(Outcome done) {
      assertThat(problems).as(name).isEmpty();
      assertThat(settlements).as("settlements, %s", name).hasValue(1);
      assertThat(done).as(name).isSameAs(outcome);
      assertThat(hookRuns).as("kill hook runs, %s", name).hasValueLessThanOrEqualTo(1);
      if (killTookEffect.get() && hookRegistered) {
        assertThat(hookRuns)
            .as("kill hook runs after a kill that took effect, %s", name)
            .hasValue(1);
      }
      if (run.stage().compareTo(Stage.KILLING) >= 0 && hookRegistered) {
        assertThat(hookRuns).as("kill hook runs of a killed task, %s", name).hasValue(1);
      }
      if (hookRuns.get() == 1) {
        assertThat(run.stage()).as(name).isGreaterThanOrEqualTo(Stage.KILLING);
      }
      assertThat(run.stage()).as(name).isNotEqualTo(Stage.STUCK);
      synchronized (samples) {
        for (int k = 1; k < samples.size(); k++) {
          assertThat(samples.get(k))
              .as("stage went back, samples %s, %s", samples, name)
              .isGreaterThanOrEqualTo(samples.get(k - 1));
        }
        assertThat(run.stage()).as(name).isGreaterThanOrEqualTo(samples.getLast());
      }
      checkOutcome();
    }

    /** {@link TaskRunner#decide}'s rules, as the handler ended and the racers asked. */
    void checkOutcome() {
      assertThat(outcome).as(name).isNotInstanceOf(Outcome.Failed.class);
      if (handlerReturned) {
        assertThat(outcome).as(name).isEqualTo(new Outcome.Succeeded("done"));
        return;
      }
      if (handlerThrew) {
        assertThat(run.token().isCancelled()).as(name).isTrue();
      }
      Ending ending = run.ending();
      assertThat(ending).as("an ending, %s", name).isNotNull();
      synchronized (causesAsked) {
        assertThat(causesAsked).as(name).contains(ending.cause());
      }
      Outcome expected =
          switch (ending.cause()) {
            case DEADLINE -> new Outcome.TimedOut("timeout");
            case USER_STOP, USER_KILL -> new Outcome.Cancelled(ending.cause(), "me");
            case SHUTDOWN, CONNECTION_LOST -> new Outcome.Requeued(ending.cause(), null);
            default -> throw new AssertionError("unexpected ending " + ending + ", " + name);
          };
      if (!handlerThrew && scope.lost() && !outcome.equals(expected)) {
        // Not started because its lease was lost, decided before any ending was requested.
        assertThat(outcome).as(name).isEqualTo(new Outcome.Requeued(Cause.CONNECTION_LOST, null));
      } else {
        assertThat(outcome).as(name).isEqualTo(expected);
      }
    }
  }

  private static ThreadFactory named(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
