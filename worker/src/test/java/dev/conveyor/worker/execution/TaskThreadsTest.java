package dev.conveyor.worker.execution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TaskThreadsTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private final List<TaskThreads> pools = new ArrayList<>();

  @AfterEach
  void close() throws InterruptedException {
    for (TaskThreads p : pools) {
      p.shutdownNow();
      assertThat(p.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
  }

  private TaskThreads pool(int concurrency, int dispatchers, String prefix) {
    TaskThreads p = new TaskThreads(concurrency, dispatchers, prefix);
    pools.add(p);
    allParked(prefix, concurrency + dispatchers);
    return p;
  }

  /** Waits until every thread of the pool is idle, so that which one runs what is determined. */
  private static void allParked(String prefix, int threads) {
    await()
        .atMost(WAIT)
        .until(
            () ->
                Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.getName().startsWith(prefix + "-"))
                        .filter(t -> t.getState() == Thread.State.WAITING)
                        .count()
                    == threads);
  }

  /**
   * The point of the pool: the task a delivery queues runs on the thread that dispatched it, with
   * no other thread woken. The dispatch holds on for a while after queuing it, so that a thread
   * woken for it would have run it meanwhile (as every task did with a separate task pool).
   */
  @Test
  void theTaskADispatchQueuesRunsOnTheThreadThatDispatchedIt() throws Exception {
    TaskThreads p = pool(4, 2, "tt-own");
    AtomicReference<Thread> dispatcher = new AtomicReference<>();
    AtomicReference<Thread> runner = new AtomicReference<>();
    CountDownLatch ran = new CountDownLatch(1);
    AtomicBoolean ranDuringDispatch = new AtomicBoolean();
    p.execute(
        () -> {
          dispatcher.set(Thread.currentThread());
          p.tasks()
              .execute(
                  () -> {
                    runner.set(Thread.currentThread());
                    ran.countDown();
                  });
          try {
            ranDuringDispatch.set(ran.await(300, TimeUnit.MILLISECONDS));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(ranDuringDispatch).isFalse();
    assertThat(runner.get()).isSameAs(dispatcher.get());
  }

  /** A dispatch that queues several tasks keeps one and wakes threads for the rest. */
  @Test
  void aDispatchThatQueuesSeveralTasksRunsThemAtOnce() throws Exception {
    TaskThreads p = pool(3, 1, "tt-burst");
    CountDownLatch allRunning = new CountDownLatch(3);
    CountDownLatch release = new CountDownLatch(1);
    p.execute(
        () -> {
          for (int i = 0; i < 3; i++) {
            p.tasks().execute(holding(allRunning, release));
          }
        });
    assertThat(allRunning.await(10, TimeUnit.SECONDS)).isTrue();
    release.countDown();
  }

  /**
   * No more than the concurrency runs at once, and while every task slot is busy a delivery or a
   * command is still dispatched at once.
   */
  @Test
  void atMostConcurrencyTasksRunAndDispatchGoesOnWhileEverySlotIsBusy() throws Exception {
    TaskThreads p = pool(2, 1, "tt-limit");
    AtomicInteger running = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    CountDownLatch twoRunning = new CountDownLatch(2);
    CountDownLatch release = new CountDownLatch(1);
    for (int i = 0; i < 5; i++) {
      p.tasks()
          .execute(
              () -> {
                most.accumulateAndGet(running.incrementAndGet(), Math::max);
                twoRunning.countDown();
                awaitQuietly(release);
                running.decrementAndGet();
                done.incrementAndGet();
              });
    }
    assertThat(twoRunning.await(10, TimeUnit.SECONDS)).isTrue();
    CountDownLatch dispatched = new CountDownLatch(1);
    p.execute(dispatched::countDown);
    assertThat(dispatched.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(running.get()).isEqualTo(2);
    release.countDown();
    await().atMost(WAIT).until(() -> done.get() == 5);
    assertThat(most.get()).isEqualTo(2);
  }

  @Test
  void aQueuedTaskCanBeWithdrawnBeforeItStarts() throws Exception {
    TaskThreads p = pool(1, 1, "tt-withdraw");
    CountDownLatch busy = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    p.tasks().execute(holding(busy, release));
    assertThat(busy.await(10, TimeUnit.SECONDS)).isTrue();
    AtomicBoolean ran = new AtomicBoolean();
    Runnable queued = () -> ran.set(true);
    p.tasks().execute(queued);
    assertThat(p.tasks().remove(queued)).isTrue();
    assertThat(p.tasks().remove(queued)).isFalse();
    CountDownLatch after = new CountDownLatch(1);
    p.tasks().execute(after::countDown);
    release.countDown();
    assertThat(after.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(ran).isFalse();
  }

  /**
   * An interrupt left on a thread by its task (a kill that landed as the handler ended) is not
   * carried into the next callback that thread dispatches: amqp-client's would fail on it.
   */
  @Test
  void anInterruptLeftByATaskDoesNotReachTheNextDispatch() throws Exception {
    TaskThreads p = pool(1, 1, "tt-interrupt");
    AtomicReference<Thread> taskThread = new AtomicReference<>();
    CountDownLatch ran = new CountDownLatch(1);
    p.tasks()
        .execute(
            () -> {
              taskThread.set(Thread.currentThread());
              Thread.currentThread().interrupt();
              ran.countDown();
            });
    assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
    allParked("tt-interrupt", 2);
    // The thread that parked last is woken first.
    AtomicReference<Thread> dispatcher = new AtomicReference<>();
    AtomicBoolean interrupted = new AtomicBoolean(true);
    CountDownLatch dispatched = new CountDownLatch(1);
    p.execute(
        () -> {
          dispatcher.set(Thread.currentThread());
          interrupted.set(Thread.currentThread().isInterrupted());
          dispatched.countDown();
        });
    assertThat(dispatched.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(dispatcher.get()).isSameAs(taskThread.get());
    assertThat(interrupted).isFalse();
  }

  /**
   * {@code shutdown} keeps the {@code ExecutorService} contract: what was queued before it still
   * runs, and nothing is taken after it.
   */
  @Test
  void shutdownRunsWhatWasQueuedAndTakesNothingMore() throws Exception {
    TaskThreads p = new TaskThreads(1, 1, "tt-drain");
    CountDownLatch busy = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    p.tasks().execute(holding(busy, release));
    assertThat(busy.await(10, TimeUnit.SECONDS)).isTrue();
    CountDownLatch queuedRan = new CountDownLatch(1);
    p.tasks().execute(queuedRan::countDown);
    p.shutdown();
    assertThatThrownBy(() -> p.tasks().execute(() -> {}))
        .isInstanceOf(RejectedExecutionException.class);
    assertThatThrownBy(() -> p.execute(() -> {})).isInstanceOf(RejectedExecutionException.class);
    release.countDown();
    assertThat(queuedRan.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void shutdownNowInterruptsWhatRunsAndReturnsWhatNeverStarted() throws Exception {
    TaskThreads p = new TaskThreads(1, 1, "tt-close");
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch interrupted = new CountDownLatch(1);
    p.tasks().execute(holding(started, new CountDownLatch(1), interrupted));
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    Runnable never = () -> {};
    p.tasks().execute(never);
    assertThat(p.shutdownNow()).containsExactly(never);
    assertThat(interrupted.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.isTerminated()).isTrue();
  }

  /**
   * Many dispatches, from several threads at once, each queuing a task: every task runs exactly
   * once, never more than the concurrency at once, and none is left waiting for a wake-up that
   * never comes.
   */
  @Test
  void underLoadEveryTaskRunsOnceWithinTheConcurrency() throws Exception {
    TaskThreads p = pool(4, 2, "tt-load");
    int n = 20_000;
    Set<Integer> ran = ConcurrentHashMap.newKeySet();
    AtomicInteger twice = new AtomicInteger();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    List<Thread> producers = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      int from = t;
      producers.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    for (int i = from; i < n; i += 3) {
                      int id = i;
                      Runnable task =
                          () -> {
                            most.accumulateAndGet(running.incrementAndGet(), Math::max);
                            if (!ran.add(id)) {
                              twice.incrementAndGet();
                            }
                            running.decrementAndGet();
                          };
                      if (id % 2 == 0) {
                        p.execute(() -> p.tasks().execute(task));
                      } else {
                        p.tasks().execute(task);
                      }
                    }
                  }));
    }
    for (Thread t : producers) {
      t.join();
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> ran.size() == n);
    assertThat(twice.get()).isZero();
    assertThat(most.get()).isBetween(1, 4);
  }

  /** A task that says it started and holds its slot until released. */
  private static Runnable holding(CountDownLatch started, CountDownLatch release) {
    return holding(started, release, new CountDownLatch(1));
  }

  /** {@link #holding(CountDownLatch, CountDownLatch)}, counting {@code interrupted} if it is. */
  private static Runnable holding(
      CountDownLatch started, CountDownLatch release, CountDownLatch interrupted) {
    return () -> {
      started.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        interrupted.countDown();
      }
    };
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
