package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.api.CancellationToken;
import dev.conveyor.worker.api.TaskCancelledException;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.execution.TaskRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A kill's signals go out before the task's token is set (the ladder signals every task of a {@code
 * kill --all} first). A shell whose only child was killed exits 0 in that gap; the task must still
 * end cancelled, not succeeded.
 */
class ExecKillTest {

  @Test
  void aKilledTreeWhoseRootExitsZeroIsCancelled() throws Exception {
    assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux /proc");
    try (ExecHandler exec = new ExecHandler(List.of(Path.of("/bin/sh")))) {
      killedWhileTheTokenIsUnset(exec);
    }
  }

  private void killedWhileTheTokenIsUnset(ExecHandler exec) throws Exception {
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

    Object result = outcome.get(10, TimeUnit.SECONDS);
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

  /**
   * The task's own context, whose token nobody sets, except that its kill hooks are kept here to be
   * run by the test alone.
   */
  private static final class Context implements TaskContext {
    final List<Runnable> killHooks = new CopyOnWriteArrayList<>();
    private final TaskRun run;

    Context(TaskRun run) {
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
    public JsonNode payload() {
      return run.payload();
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
    public void onKill(Runnable action) {
      killHooks.add(action);
    }

    @Override
    public void progress(double fraction) {
      run.progress(fraction);
    }
  }
}
