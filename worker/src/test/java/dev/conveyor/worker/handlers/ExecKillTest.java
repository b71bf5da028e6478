package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.ManualScheduler;
import dev.conveyor.worker.api.CancellationToken;
import dev.conveyor.worker.api.TaskCancelledException;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.execution.Ending;
import dev.conveyor.worker.execution.EscalationLadder;
import dev.conveyor.worker.execution.JsonTaskContext;
import dev.conveyor.worker.execution.TaskRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A kill's signals go out before the task's token is set (the ladder signals every task of a {@code
 * kill --all} first). A shell whose only child was killed exits 0 in that gap; the task must still
 * end cancelled, not succeeded.
 */
class ExecKillTest {

  /**
   * The kill's later generations are held (its signaller runs nothing until the test says so), and
   * the test ends the child itself, as the kill's first generation would: the shell then exits 0,
   * whatever the machine's load, before the kill could reach it.
   */
  @Test
  void aKilledTreeWhoseRootExitsZeroIsCancelled() throws Exception {
    assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux /proc");
    ManualScheduler signaller = new ManualScheduler();
    try (ExecHandler exec = ShellExec.withSignaller(signaller)) {
      killedWhileTheTokenIsUnset(exec, signaller);
    }
  }

  /**
   * The window between the child's start and the registration of its kill hook, held open: the kill
   * lands just as the handler registers its first hook. The child ignores SIGTERM, so only the kill
   * ends it.
   */
  @Test
  void aKillThatLandsWhileExecRegistersItsHooksStillKillsTheChild() throws Exception {
    assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux /proc");
    ManualScheduler timer = new ManualScheduler();
    EscalationLadder ladder =
        new EscalationLadder(timer, Duration.ofSeconds(5), r -> {}, (s, e) -> {});
    TaskMessage task =
        new TaskMessage(
            "t",
            "exec",
            Wire.JSON.readTree(
                """
                {"command":["/bin/sh","-c","trap '' TERM; exec /bin/sleep 600"]}"""),
            null,
            null,
            null,
            null,
            null);
    TaskRun run = new TaskRun(task, null, 1, null);
    AtomicBoolean killed = new AtomicBoolean();
    Runnable killOnce =
        () -> {
          if (killed.compareAndSet(false, true)) {
            ladder.kill(run, new Ending(Cause.USER_KILL, false, "test"));
          }
        };
    TaskContext ctx = new KillOnFirstHook(run, killOnce);
    try (ExecHandler exec = new ExecHandler(List.of(Path.of("/bin/sh")))) {
      CompletableFuture<Object> outcome =
          CompletableFuture.supplyAsync(
              () -> {
                run.start(Thread.currentThread(), null);
                try {
                  return exec.handle(ctx);
                } catch (Exception e) {
                  return e;
                }
              });
      Object result = outcome.get(20, TimeUnit.SECONDS);
      assertThat(killed).isTrue();
      assertThat(result).isInstanceOf(TaskCancelledException.class);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> sleepsOf(ProcessHandle.current()) == 0);
  }

  private void killedWhileTheTokenIsUnset(ExecHandler exec, ManualScheduler signaller)
      throws Exception {
    TaskMessage task =
        new TaskMessage(
            "t",
            "exec",
            Wire.JSON.readTree(
                """
                {"command":["/bin/sh","-c","/bin/sleep 600; exit 0"]}"""),
            null,
            null,
            null,
            null,
            null);
    Context ctx = new Context(new TaskRun(task, null, 1, exec));

    CompletableFuture<Object> outcome =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return exec.handle(ctx);
              } catch (Exception e) {
                return e;
              }
            });
    // The kill hook is registered right after the shell starts; its sleep comes a moment later.
    await().atMost(Duration.ofSeconds(10)).until(() -> !ctx.killHooks.isEmpty());
    await().atMost(Duration.ofSeconds(10)).until(() -> sleepsOf(ProcessHandle.current()) > 0);

    ctx.killHooks.forEach(Runnable::run); // the kill, without the token: the gap, held open
    assertThat(signaller.pending()).as("the tree's generations, held").isEqualTo(1);
    ProcessHandle.current()
        .descendants()
        .filter(p -> p.info().command().map(c -> c.endsWith("/sleep")).orElse(false))
        .forEach(ProcessHandle::destroyForcibly); // the kill's first generation

    Object result = outcome.get(10, TimeUnit.SECONDS);
    signaller.runDue(); // the rest of the kill, which finds the tree gone
    assertThat(result)
        .isInstanceOf(TaskCancelledException.class)
        .extracting(r -> ((Exception) r).getMessage())
        .asString()
        .contains("exit 0");
  }

  private static long sleepsOf(ProcessHandle root) {
    return root.descendants()
        .filter(p -> p.info().command().map(c -> c.endsWith("/sleep")).orElse(false))
        .count();
  }

  /** The task's own context: the two tests below change only how hooks are registered. */
  private abstract static class Delegating implements JsonTaskContext {
    final TaskRun run;

    Delegating(TaskRun run) {
      this.run = run;
    }

    @Override
    public String taskId() {
      return run.taskId();
    }

    @Override
    public String type() {
      return run.type();
    }

    @Override
    public JsonNode payloadTree() {
      return run.payloadTree();
    }

    @Override
    public int attempt() {
      return run.attempt();
    }

    @Override
    public int maxAttempts() {
      return run.maxAttempts();
    }

    @Override
    public CancellationToken token() {
      return run.token();
    }

    @Override
    public void progress(double fraction) {
      run.progress(fraction);
    }
  }

  /** The first hook the handler registers, of either kind, fires the kill first. */
  private static final class KillOnFirstHook extends Delegating {
    private final Runnable kill;

    KillOnFirstHook(TaskRun run, Runnable kill) {
      super(run);
      this.kill = kill;
    }

    @Override
    public CancellationToken token() {
      CancellationToken token = run.token();
      return new CancellationToken() {
        @Override
        public boolean isCancelled() {
          return token.isCancelled();
        }

        @Override
        public void throwIfCancelled() throws TaskCancelledException {
          token.throwIfCancelled();
        }

        @Override
        public boolean await(Duration timeout) throws InterruptedException {
          return token.await(timeout);
        }

        @Override
        public void onCancel(Runnable action) {
          kill.run();
          token.onCancel(action);
        }

        @Override
        public String reason() {
          return token.reason();
        }
      };
    }

    @Override
    public void onKill(Runnable action) {
      kill.run();
      run.onKill(action);
    }
  }

  /** The token nobody sets; the kill hooks are kept here, to be run by the test alone. */
  private static final class Context extends Delegating {
    final List<Runnable> killHooks = new CopyOnWriteArrayList<>();

    Context(TaskRun run) {
      super(run);
    }

    @Override
    public void onKill(Runnable action) {
      killHooks.add(action);
    }
  }
}
