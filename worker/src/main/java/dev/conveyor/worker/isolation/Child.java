package dev.conveyor.worker.isolation;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.handlers.ProcessTree;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One child JVM, as its worker sees it: the process, the pipes to it, and the two threads that read
 * what it says (frames on its stdout, the JVM's own messages on its stderr). It runs one task at a
 * time ({@link #run}).
 */
final class Child {
  private static final Logger log = LoggerFactory.getLogger(Child.class);

  /** What the JVM prints when {@code -XX:+ExitOnOutOfMemoryError} ends it. */
  static final String OOM_MARK = "java.lang.OutOfMemoryError";

  private final Process process;
  private final ProcessTree tree;
  private final long pid;
  private final OutputStream toChild;
  private final InputStream fromChild;
  private final Thread reader;
  private final Thread errors;
  private final CompletableFuture<Frame.Hello> hello = new CompletableFuture<>();

  /** Completes with the exit status once the child's stdout has ended and it has been reaped. */
  private final CompletableFuture<Integer> ended = new CompletableFuture<>();

  private volatile Task current;
  private volatile boolean outOfMemory;
  private volatile boolean killed;
  private volatile int tasksRun; // written by the task thread, read by status

  /** The running task's side: where its frames go, and how it ends. */
  private record Task(TaskContext ctx, CompletableFuture<Reply> reply) {}

  /** How a task in a child ended. */
  sealed interface Reply {}

  /** The child answered: a {@link Frame.Result} or a {@link Frame.Error}. */
  record Answered(Frame frame) implements Reply {}

  /**
   * The child ended without answering.
   *
   * @param exitCode its exit status; 128 + N for a signal N
   * @param outOfMemory it said it ran out of heap
   * @param killed its worker killed it
   */
  record Died(int exitCode, boolean outOfMemory, boolean killed) implements Reply {}

  Child(Process process, Executor signaller) {
    this.process = process;
    this.pid = process.pid();
    this.tree = new ProcessTree(process, signaller);
    this.toChild = new BufferedOutputStream(process.getOutputStream());
    this.fromChild = new BufferedInputStream(process.getInputStream());
    this.reader = Thread.ofPlatform().name("conveyor-child-" + pid).daemon().unstarted(this::read);
    this.errors =
        Thread.ofPlatform().name("conveyor-child-" + pid + "-err").daemon().unstarted(this::errors);
    reader.start();
    errors.start();
  }

  long pid() {
    return pid;
  }

  int tasksRun() {
    return tasksRun;
  }

  /** For {@code control status}: pid, tasks run and resident set size (null if unreadable). */
  WorkerStatus.ChildProcess status() {
    return new WorkerStatus.ChildProcess(pid, tasksRun, alive() ? rssBytes(pid) : null);
  }

  /** VmRSS from /proc (Linux); null elsewhere or once the process is gone. */
  static Long rssBytes(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith("VmRSS:")) { // "VmRSS:     123456 kB"
          return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or the child has just ended: no figure
    }
    return null;
  }

  /** Completes when the child has loaded its handlers and said hello. */
  CompletableFuture<Frame.Hello> hello() {
    return hello;
  }

  /** Completes with the exit status once the child has ended and been reaped. */
  CompletableFuture<Integer> ended() {
    return ended;
  }

  boolean alive() {
    return !ended.isDone() && process.isAlive();
  }

  boolean wasKilled() {
    return killed;
  }

  /**
   * Runs one task in the child and waits for its reply, uninterruptibly (a kill ends the child,
   * which ends the wait; the interrupt that comes with it is kept for the caller).
   *
   * @return what the child answered, or how it died
   */
  Reply run(TaskContext ctx) {
    tasksRun++;
    CompletableFuture<Reply> reply = new CompletableFuture<>();
    current = new Task(ctx, reply);
    if (ended.isDone()) { // else reap() sees this task and completes its reply
      reply.complete(died(ended.join()));
    }
    // A kill is never lost: registered before the task is sent, it ends the child even when it
    // arrives while the task starts.
    ctx.onKill(this::kill);
    try {
      send(
          new Frame.Run(
              ctx.taskId(),
              ctx.type(),
              ctx.payload(JsonNode.class),
              ctx.attempt(),
              ctx.maxAttempts()));
    } catch (IOException e) {
      kill(); // a child we cannot talk to is of no use: its death is the reply
    }
    ctx.token().onCancel(() -> stop(ctx.token().reason()));
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return reply.get();
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          throw new IllegalStateException(e.getCause());
        }
      }
    } finally {
      current = null;
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void stop(String reason) {
    try {
      send(new Frame.Stop(reason));
    } catch (IOException e) {
      log.debug("child {}: stop not sent: {}", pid, e.toString());
    }
  }

  private void send(Frame frame) throws IOException {
    synchronized (toChild) {
      Frames.write(toChild, frame);
    }
  }

  /** SIGKILL to the child and everything it started; returns at once. */
  void kill() {
    killed = true;
    tree.kill();
  }

  /** Closes the child's stdin, which tells it to exit (a running task with it). */
  void closeInput() {
    try {
      synchronized (toChild) {
        toChild.close();
      }
    } catch (IOException e) {
      // gone already
    }
  }

  /**
   * Waits for the child to end after {@link #closeInput}; one that has not within the timeout is
   * killed. Returns once it has been reaped.
   */
  void awaitEnded(Duration timeout) {
    try {
      ended.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return;
    } catch (TimeoutException | ExecutionException e) {
      kill();
    } catch (InterruptedException e) {
      kill();
      Thread.currentThread().interrupt();
    }
    awaitEnded();
  }

  /** Waits until the child has been reaped; after a kill that is milliseconds. */
  void awaitEnded() {
    boolean interrupted = false;
    while (true) {
      try {
        ended.get();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      } catch (ExecutionException e) {
        break;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** The reader thread: frames in order, until the child's stdout ends. */
  private void read() {
    try {
      Frame frame;
      while ((frame = Frames.read(fromChild)) != null) {
        dispatch(frame);
      }
    } catch (IOException | RuntimeException e) {
      if (!killed) {
        log.warn("child {}: unreadable output ({}); ending it", pid, e.toString());
      }
      tree.kill();
    } finally {
      reap();
    }
  }

  private void dispatch(Frame frame) {
    Task task = current;
    switch (frame) {
      case Frame.Hello h -> hello.complete(h);
      case Frame.Log l -> {
        if (task == null) {
          log.info("child {}: {}", pid, l.line());
        } else {
          log.info("[{}] {}", task.ctx().taskId(), l.line());
        }
      }
      case Frame.Progress p -> {
        if (task != null) {
          task.ctx().progress(p.fraction());
        }
      }
      case Frame.Result r -> reply(task, r);
      case Frame.Error e -> reply(task, e);
      default -> log.warn("child {}: unexpected frame {}", pid, frame);
    }
  }

  private void reply(Task task, Frame frame) {
    if (task == null) {
      log.warn("child {}: a reply with no task running: {}", pid, frame);
    } else {
      task.reply().complete(new Answered(frame));
    }
  }

  /**
   * The child's stdout ended: it exited, was killed, or closed it. Waits for its exit (killing one
   * that lives on without its stdout) and for the last of its stderr, which says whether it ran out
   * of memory.
   */
  private void reap() {
    int exit;
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        log.warn("child {}: closed its output but did not exit; killing it", pid);
        tree.kill();
      }
      exit = process.waitFor();
      tree.awaitGone(Duration.ofSeconds(5));
      errors.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      exit = process.isAlive() ? -1 : process.exitValue();
    }
    hello.completeExceptionally(new IOException("child " + pid + " ended, exit " + exit));
    ended.complete(exit);
    Task task = current;
    if (task != null) {
      task.reply().complete(died(exit));
    }
  }

  private Died died(int exit) {
    return new Died(exit, outOfMemory, killed);
  }

  /** The stderr thread: the JVM's own messages (crashes, out of memory), logged as warnings. */
  private void errors() {
    try (BufferedReader r =
        new BufferedReader(
            new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.contains(OOM_MARK)) {
          outOfMemory = true;
        }
        Task task = current;
        log.warn("child {}{}: {}", pid, task == null ? "" : " [" + task.ctx().taskId() + "]", line);
      }
    } catch (IOException e) {
      log.debug("child {}: stderr: {}", pid, e.toString());
    }
  }

  @Override
  public String toString() {
    return "child " + pid;
  }
}
