package dev.conveyor.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.worker.api.TaskCancelledException;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@code {"command":[…],"env":{…},"cwd":"…"}} as a child process — only what the {@link
 * ExecPolicy} allows. Stop sends SIGTERM to its process tree, kill sends SIGKILL; either way the
 * tree is reaped before the task is reported. Whatever still runs of the task once its process has
 * ended, and whatever a killed worker left running, is ended too ({@link ExecContainment}).
 */
public final class ExecHandler implements TaskHandler, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ExecHandler.class);

  private static final int OUTPUT_TAIL_BYTES = 4096;
  private final ExecPolicy policy;
  private final Path outputDir;
  private final ExecContainment containment = new ExecContainment();

  /** Signals the generations of process trees; idle threads end after a minute. */
  private final ExecutorService signaller;

  /**
   * Deletes the output files off the task's path. On ext4 an unlink can wait for the journal's
   * commit, which the broker's fsyncs keep starting, and every killed task would be reported that
   * much later (docs/benchmarks.md). Also ends, once, the orphans of a dead worker.
   */
  private final ExecutorService janitor =
      Executors.newSingleThreadExecutor(
          Thread.ofPlatform().name("conveyor-exec-cleanup").daemon().factory());

  /**
   * @throws IllegalArgumentException for a relative path: it would mean a different program in each
   *     working directory
   */
  public ExecHandler(List<Path> allowed) {
    this(ExecPolicy.programsOnly(allowed));
  }

  public ExecHandler(ExecPolicy policy) {
    this(policy, Path.of(System.getProperty("java.io.tmpdir")));
  }

  /**
   * @param outputDir where each task's output is collected while it runs
   */
  ExecHandler(List<Path> allowed, Path outputDir) {
    this(ExecPolicy.programsOnly(allowed), outputDir);
  }

  ExecHandler(ExecPolicy policy, Path outputDir) {
    this(
        policy,
        outputDir,
        Executors.newCachedThreadPool(
            Thread.ofPlatform().name("conveyor-exec-signal-", 0).daemon().factory()));
  }

  /**
   * @param signaller signals the generations of process trees; owned (shut down by {@link #close})
   */
  ExecHandler(ExecPolicy policy, Path outputDir, ExecutorService signaller) {
    this.policy = policy;
    this.outputDir = outputDir;
    this.signaller = signaller;
    policy.programs().forEach(ExecHandler::warnIfNotRunnable);
    // The orphans of a worker on this host that was killed or crashed: every process is read, so
    // off the worker's start path.
    janitor.execute(this::endOrphans);
  }

  private void endOrphans() {
    try {
      containment.endOrphans();
    } catch (RuntimeException e) {
      log.warn("exec: could not look for processes a dead worker left running: {}", e.toString());
    }
  }

  /** A missing program is the operator's typo, found at start rather than by the first task. */
  private static void warnIfNotRunnable(Path program) {
    if (!Files.exists(program)) {
      log.warn("--exec-allow: {} does not exist; exec tasks that name it will fail", program);
    } else if (!Files.isRegularFile(program) || !Files.isExecutable(program)) {
      log.warn(
          "--exec-allow: {} is not an executable file; exec tasks that name it will fail", program);
    }
  }

  @Override
  public String type() {
    return "exec";
  }

  /**
   * Stops the signaller once the worker has settled its tasks, and waits for the last output files
   * to be deleted. Not {@code shutdownNow}: a tree still being signalled (at most five rounds of 50
   * ms) is finished, not abandoned half-killed.
   */
  @Override
  public void close() {
    signaller.shutdown();
    janitor.shutdown();
    try {
      if (!janitor.awaitTermination(5, TimeUnit.SECONDS)) {
        log.warn("exec output files not deleted within 5 s are left behind");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public Object handle(TaskContext ctx) throws Exception {
    ProcessBuilder pb = policy.processFor(ctx.payload(JsonNode.class)).redirectErrorStream(true);
    Path output = Files.createTempFile(outputDir, "conveyor-exec-", ".out");
    try {
      pb.redirectOutput(output.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      ExecContainment.Run run = containment.mark(pb);
      Process process = pb.start();
      containment.started(process);
      try {
        return await(ctx, process, run, output);
      } finally {
        containment.forget(process);
      }
    } finally {
      delete(output);
    }
  }

  /**
   * The task's process tree. Each process a stop or kill finds in it is made known to the task's
   * search by its mark, so that the search does not read its environment while it dies.
   */
  ProcessTree treeOf(Process process, ExecContainment.Run run) {
    return new ProcessTree(process, signaller, member -> containment.inTree(run, member));
  }

  /** Waits for the task's processes to end, then reports how. */
  private Object await(TaskContext ctx, Process process, ExecContainment.Run run, Path output)
      throws IOException, TaskCancelledException {
    ProcessTree tree = treeOf(process, run);
    // Both return at once: the signal is sent on the caller's thread, the generations of a tree
    // are signalled in turn on the signaller.
    ctx.token().onCancel(tree::terminate);
    ctx.onKill(tree::kill);
    int exit = waitUninterruptibly(process);
    tree.awaitGone(Duration.ofSeconds(5));
    containment.endLeftovers(run, ctx.taskId()); // what left the tree: daemons, orphans
    // The tree's own flag too: a kill signals it before the token is set, and a shell whose
    // children were killed can exit 0 in between. A cancelled task reports no output, so it is not
    // read: a kill --all ends many tasks at once on a few CPUs.
    if (ctx.token().isCancelled() || tree.wasSignalled()) {
      String by = ctx.token().isCancelled() ? ctx.token().reason() : "kill";
      throw new TaskCancelledException("exec ended by " + by + ", exit " + exit);
    }
    String tail = tail(output);
    if (exit != 0) {
      throw new IllegalStateException("exit code " + exit + lastLine(tail));
    }
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("exitCode", exit);
    result.put("output", tail);
    return result;
  }

  private void delete(Path output) {
    try {
      janitor.execute(() -> deleteQuietly(output));
    } catch (RejectedExecutionException e) {
      deleteQuietly(output); // closed: no hurry any more
    }
  }

  private static void deleteQuietly(Path file) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      log.warn("could not delete {}: {}", file, e.toString());
    }
  }

  /**
   * The child must be reaped whatever happens to this thread. An interrupt comes with a kill, whose
   * hook ends the tree in order; this thread keeps waiting for it.
   */
  private static int waitUninterruptibly(Process process) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return process.waitFor();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static String tail(Path file) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      long len = f.length();
      long from = Math.max(0, len - OUTPUT_TAIL_BYTES);
      byte[] buf = new byte[(int) (len - from)];
      f.seek(from);
      f.readFully(buf);
      return new String(buf, StandardCharsets.UTF_8);
    }
  }

  private static String lastLine(String tail) {
    String t = tail.strip();
    if (t.isEmpty()) {
      return "";
    }
    int nl = t.lastIndexOf('\n');
    return ": " + (nl < 0 ? t : t.substring(nl + 1));
  }
}
