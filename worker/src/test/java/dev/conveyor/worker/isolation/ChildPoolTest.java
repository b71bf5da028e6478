package dev.conveyor.worker.isolation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conveyor.testkit.LogCapture;
import dev.conveyor.worker.api.TaskCancelledException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pool of child JVMs with real children: answers, stop, kill, crashes, recycling, close. */
class ChildPoolTest {

  private static final Duration START = Duration.ofSeconds(60);

  @TempDir static Path dir;
  private static Path handlers;
  private ChildPool pool;

  @BeforeAll
  static void compileHandlers() throws Exception {
    handlers = TestHandlerJar.in(dir);
  }

  @AfterEach
  void closePool() {
    if (pool != null) {
      pool.close();
    }
  }

  private ChildPool pool(int concurrency, int maxTasks, String heap) throws Exception {
    pool =
        new ChildPool(
            ChildPool.command(Optional.ofNullable(heap), Optional.of(handlers)),
            concurrency,
            maxTasks,
            heap);
    pool.start();
    pool.awaitReady(START);
    return pool;
  }

  private static Object run(ChildPool pool, Context ctx) throws Exception {
    return new IsolatedHandler(ctx.type(), pool).handle(ctx);
  }

  private static Future<Object> runAsync(ChildPool pool, Context ctx) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return run(pool, ctx);
          } catch (Exception e) {
            throw new java.util.concurrent.CompletionException(e);
          }
        });
  }

  private static long pidOf(Object result) {
    return ((com.fasterxml.jackson.databind.JsonNode) result).asLong();
  }

  @Test
  void aTaskRunsInAChildWhoseResultProgressAndLinesComeBack() throws Exception {
    pool(1, 0, null);
    try (LogCapture log = LogCapture.of(Child.class)) {
      Context ctx = new Context("pid", "{}");
      long pid = pidOf(run(pool, ctx));

      assertThat(pid).isNotEqualTo(ProcessHandle.current().pid());
      assertThat(pool.pids()).contains(pid);
      assertThat(ctx.progress).isEqualTo(0.5);
      assertThat(log.all()).contains("INFO [t-pid] pid task t-pid says hello");
    }
    assertThat(run(pool, new Context("noop", "{}"))).isNull();
  }

  @Test
  void aStopSetsTheTokenInTheChild() throws Exception {
    pool(1, 0, null);
    Context ctx = new Context("sleep", "{\"seconds\":60}");
    Future<Object> task = runAsync(pool, ctx);
    ctx.token.cancel("user-stop");

    assertThatThrownBy(() -> task.get(30, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(TaskCancelledException.class)
        .hasMessage("user-stop");
    assertThat(pool.killed()).isZero();
  }

  @Test
  void aKillEndsTheChildAndTheSpareRunsTheNextTask() throws Exception {
    pool(1, 0, null);
    Awaitility.await().atMost(START).until(() -> pool.spares() == 2);
    List<Long> before = pool.pids();
    Context spin = new Context("spin", "{\"seconds\":600}");
    Future<Object> task = runAsync(pool, spin);
    Awaitility.await().atMost(START).until(() -> pool.spares() == 1);

    spin.kill();

    assertThatThrownBy(() -> task.get(30, TimeUnit.SECONDS))
        .cause()
        .isInstanceOf(TaskCancelledException.class)
        .hasMessageContaining("was killed");
    List<Long> gone = before.stream().filter(p -> !pool.pids().contains(p)).toList();
    assertThat(gone).hasSize(1);
    assertThat(ProcessHandle.of(gone.getFirst()).map(ProcessHandle::isAlive))
        .isNotEqualTo(Optional.of(true));
    long next = pidOf(run(pool, new Context("pid", "{}")));
    assertThat(before).contains(next);
    assertThat(pool.killed()).isEqualTo(1);
    assertThat(pool.crashed()).isZero();
    Awaitility.await().atMost(START).until(() -> pool.spares() == 2);
  }

  @Test
  void aChildThatEndsItselfFailsItsTaskWithTheCauseAndIsReplaced() throws Exception {
    pool(1, 0, "32m");
    assertThatThrownBy(() -> run(pool, new Context("exit", "{\"code\":3}")))
        .isInstanceOf(ChildCrashedException.class)
        .hasMessage("crashed: the child JVM exited with code 3");
    assertThatThrownBy(() -> run(pool, new Context("halt", "{\"code\":4}")))
        .isInstanceOf(ChildCrashedException.class)
        .hasMessage("crashed: the child JVM exited with code 4");
    assertThatThrownBy(() -> run(pool, new Context("oom", "{}")))
        .isInstanceOf(ChildCrashedException.class)
        .hasMessage("out-of-memory: the child JVM ran out of heap (--child-heap 32m)");

    assertThat(pidOf(run(pool, new Context("pid", "{}")))).isPositive();
    assertThat(pool.crashed()).isEqualTo(3);
    assertThat(pool.started()).isGreaterThanOrEqualTo(5);
  }

  @Test
  void aChildIsReplacedAfterItsMaximumOfTasks() throws Exception {
    pool(1, 2, null);
    long first = pidOf(run(pool, new Context("pid", "{}")));
    long second = pidOf(run(pool, new Context("pid", "{}")));
    Awaitility.await().atMost(START).until(() -> !pool.pids().contains(first));
    long third = pidOf(run(pool, new Context("pid", "{}")));

    assertThat(second).isEqualTo(first);
    assertThat(third).isNotEqualTo(first);
    assertThat(pool.crashed()).isZero();
    assertThat(pool.killed()).isZero();
  }

  @Test
  void closeEndsAndReapsEveryChildEvenOneThatSpins() throws Exception {
    pool(2, 0, null);
    Awaitility.await().atMost(START).until(() -> pool.spares() == 3);
    List<Long> pids = pool.pids();
    Context spin = new Context("spin", "{\"seconds\":600}");
    Future<Object> task = runAsync(pool, spin);
    Awaitility.await().atMost(START).until(() -> pool.spares() == 2);

    pool.close();

    for (long pid : pids) {
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
    }
    assertThatThrownBy(() -> task.get(30, TimeUnit.SECONDS))
        .cause()
        .isInstanceOf(TaskCancelledException.class);
    pool = null;
  }
}
