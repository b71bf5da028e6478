package dev.conveyor.worker.isolation;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The child JVMs of a worker under {@code --isolation process}. It keeps one more child alive than
 * tasks can run at once, so that a spare is ready when a task starts or a child is killed; a child
 * that ends (killed, crashed, or retired after {@code --max-tasks-per-child} tasks) is replaced.
 * Idle children are kept however long they idle. It owns every child: {@link #close} ends and reaps
 * them all.
 */
public final class ChildPool implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ChildPool.class);

  /** How long a child may take to load its handlers and say hello. */
  private static final Duration HELLO_TIMEOUT = Duration.ofSeconds(60);

  private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

  private final List<String> command;
  private final int target;
  private final int maxTasksPerChild;
  private final String heap;

  /**
   * Ready children, the most recently used first: a warm child (its classes loaded and compiled)
   * takes the next task, and a fresh one stays the spare.
   */
  private final BlockingDeque<Child> idle = new LinkedBlockingDeque<>();

  private final Set<Child> children = ConcurrentHashMap.newKeySet();
  private final Set<Child> retired = ConcurrentHashMap.newKeySet();
  private final AtomicInteger live = new AtomicInteger();
  private final AtomicLong started = new AtomicLong();
  private final AtomicLong killed = new AtomicLong();
  private final AtomicLong crashed = new AtomicLong();
  private final CompletableFuture<Void> firstReady = new CompletableFuture<>();
  private volatile boolean closed;
  private volatile long backoffMillis;

  /** Starts children and replacements, one decision at a time. */
  private final ScheduledExecutorService starter =
      Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().name("conveyor-child-starter").daemon().factory());

  /** Signals process trees, and retires children off the task threads. */
  private final ExecutorService helpers =
      Executors.newCachedThreadPool(
          Thread.ofPlatform().name("conveyor-child-helper-", 0).daemon().factory());

  /**
   * @param command the child's command line ({@link #command})
   * @param concurrency tasks run at once: the pool keeps one child more
   * @param maxTasksPerChild a child is replaced after this many tasks; 0 = never
   * @param heap the {@code --child-heap}, for crash reasons; null if none
   */
  public ChildPool(List<String> command, int concurrency, int maxTasksPerChild, String heap) {
    this.command = List.copyOf(command);
    this.target = concurrency + 1;
    this.maxTasksPerChild = maxTasksPerChild;
    this.heap = heap;
  }

  /**
   * The command line of a child: this JVM's own java and class path, and {@code ChildMain}.
   *
   * @param heap {@code -Xmx} of each child, e.g. {@code 256m}; empty for the JVM's default
   */
  public static List<String> command(Optional<String> heap, Optional<Path> handlersDir) {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    heap.ifPresent(h -> cmd.add("-Xmx" + h));
    // An OutOfMemoryError ends the child at once (exit 3) and says so on stderr, where the worker
    // reads it; stdout carries frames only.
    cmd.add("-XX:+ExitOnOutOfMemoryError");
    cmd.add("-XX:+DisplayVMOutputToStderr");
    // The JVM's unified logging writes warnings to stdout by default (a CDS archive that does not
    // match, say): to stderr too, so that nothing but frames is ever on stdout.
    cmd.add("-Xlog:disable");
    cmd.add("-Xlog:all=warning:stderr");
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-Xshare:auto");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(ChildMain.class.getName());
    handlersDir.ifPresent(d -> cmd.add(d.toAbsolutePath().toString()));
    return cmd;
  }

  /** Starts the children, without waiting for them. */
  public void start() {
    starter.execute(this::fill);
  }

  /**
   * Waits until the first child is ready.
   *
   * @throws IllegalStateException if none was within the timeout (a child that cannot start)
   */
  public void awaitReady(Duration timeout) throws InterruptedException {
    try {
      firstReady.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException(
          "--isolation process: no child JVM was ready within " + timeout.toSeconds() + " s");
    }
  }

  /** Launches children until there are as many as wanted; runs on the starter. */
  private void fill() {
    while (!closed && live.get() < target) {
      try {
        launch();
      } catch (IOException e) {
        log.error("cannot start a child JVM: {}", e.toString());
        retryLater();
        return;
      }
    }
  }

  private void retryLater() {
    long wait = backoffMillis = Math.min(Math.max(250, backoffMillis * 2), MAX_BACKOFF.toMillis());
    try {
      starter.schedule(this::fill, wait, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // closed
    }
  }

  private void launch() throws IOException {
    Process process =
        new ProcessBuilder(command)
            .redirectOutput(ProcessBuilder.Redirect.PIPE)
            .redirectError(ProcessBuilder.Redirect.PIPE)
            .start();
    Child child = new Child(process, helpers);
    live.incrementAndGet();
    children.add(child);
    started.incrementAndGet();
    child.ended().whenComplete((exit, e) -> ended(child));
    child
        .hello()
        .orTimeout(HELLO_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
        .whenComplete((hello, e) -> greeted(child, hello, e));
  }

  private void greeted(Child child, Frame.Hello hello, Throwable e) {
    if (e == null && hello.version() == Frame.VERSION) {
      backoffMillis = 0;
      log.debug("{} ready", child);
      idle.addLast(child);
      firstReady.complete(null);
      if (closed) {
        child.closeInput();
      }
      return;
    }
    if (!closed) {
      log.error(
          "{} did not start: {}",
          child,
          e == null
              ? "it speaks protocol version " + hello.version() + ", not " + Frame.VERSION
              : e instanceof TimeoutException
                  ? "no hello within " + HELLO_TIMEOUT.toSeconds() + " s"
                  : e.getMessage());
    }
    retired.add(child); // not a crash of a task: it never ran one
    child.kill();
  }

  /** A child ended: reaped already. Counted, and replaced. */
  private void ended(Child child) {
    idle.remove(child);
    children.remove(child);
    live.decrementAndGet();
    boolean wasRetired = retired.remove(child);
    if (closed) {
      return;
    }
    if (!wasRetired) {
      if (child.wasKilled()) {
        killed.incrementAndGet();
      } else {
        crashed.incrementAndGet();
      }
    }
    try {
      if (wasRetired && child.hello().isCompletedExceptionally() && child.tasksRun() == 0) {
        retryLater(); // it could not start: do not start another at once
      } else {
        starter.execute(this::fill);
      }
    } catch (RejectedExecutionException e) {
      // closed
    }
  }

  /**
   * A ready child for one task, waiting for one if none is (a child that died while idle is passed
   * over).
   */
  Child take() throws InterruptedException {
    while (true) {
      Child child = idle.takeFirst();
      if (child.alive()) {
        return child;
      }
    }
  }

  /** The task in {@code child} ended: it serves the next, or is retired and replaced. */
  void giveBack(Child child) {
    if (!child.alive()) {
      return; // ended() replaces it
    }
    if (closed || (maxTasksPerChild > 0 && child.tasksRun() >= maxTasksPerChild)) {
      retired.add(child);
      child.closeInput(); // it exits; ended() replaces it
      return;
    }
    idle.addFirst(child);
  }

  String heap() {
    return heap;
  }

  /** Children started since the worker started, replacements included. */
  public long started() {
    return started.get();
  }

  /** Children ended because their task was killed. */
  public long killed() {
    return killed.get();
  }

  /** Children that ended on their own while they were to run tasks (exit, signal, out of heap). */
  public long crashed() {
    return crashed.get();
  }

  /** Ready children that run no task. */
  public int spares() {
    return idle.size();
  }

  /** The process ids of the children alive now. */
  public List<Long> pids() {
    return children.stream().map(Child::pid).sorted().toList();
  }

  /**
   * Ends every child: an idle one is told to exit (its stdin closed), and killed if it has not
   * within two seconds; one that still runs a task (the worker has settled it already) is killed.
   * Returns once all are reaped.
   */
  @Override
  public void close() {
    closed = true;
    starter.shutdownNow();
    List<Child> all = List.copyOf(children);
    for (Child child : all) {
      if (idle.remove(child)) {
        child.closeInput();
      } else {
        child.kill();
      }
    }
    for (Child child : all) {
      child.awaitEnded(Duration.ofSeconds(2));
    }
    helpers.shutdown();
  }
}
