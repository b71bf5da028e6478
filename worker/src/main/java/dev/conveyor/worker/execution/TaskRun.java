package dev.conveyor.worker.execution;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.worker.api.CancellationToken;
import dev.conveyor.worker.api.TaskHandler;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * One attempt of one task on this worker, from delivery to settlement: the lease on its message,
 * its cancellation token, the thread that runs it and how far it is up the escalation ladder.
 */
public final class TaskRun implements JsonTaskContext {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TaskRun.class);

  private final TaskMessage task;
  private final Lease lease;
  private final int attempt;
  private final TaskHandler handler;
  private final Token token = new Token();
  private final OneShot killHooks = new OneShot(e -> log.warn("kill hook of {} failed", this, e));
  private final AtomicReference<Ending> ending = new AtomicReference<>();
  private final AtomicBoolean settled = new AtomicBoolean();
  private volatile Supplier<WorkerStatus.ChildProcess> child;
  private final CompletableFuture<Outcome> done = new CompletableFuture<>();
  private final AtomicReference<Stage> stage = new AtomicReference<>(Stage.PREFETCHED);

  /** Guards {@link #thread} against an interrupt that arrives as the handler ends. */
  private final Object threadLock = new Object();

  private Thread thread;
  private volatile Instant startedAt;
  private volatile long startNanos;
  private volatile Instant deadline;
  private volatile boolean handlerEnded;
  private Future<?> pendingKill; // guarded by threadLock
  private volatile Double progress;
  private volatile Runnable queuedAs;

  public TaskRun(TaskMessage task, Lease lease, int attempt, TaskHandler handler) {
    this.task = task;
    this.lease = lease;
    this.attempt = attempt;
    this.handler = handler;
  }

  public TaskMessage task() {
    return task;
  }

  public Lease lease() {
    return lease;
  }

  public TaskHandler handler() {
    return handler;
  }

  // --- TaskContext, for the handler ---

  @Override
  public String taskId() {
    return task.id();
  }

  @Override
  public String type() {
    return task.type();
  }

  @Override
  public JsonNode payloadTree() {
    return task.payload() == null ? JsonNodeFactory.instance.objectNode() : task.payload();
  }

  @Override
  public int attempt() {
    return attempt;
  }

  @Override
  public int maxAttempts() {
    return task.effectiveMaxAttempts();
  }

  @Override
  public CancellationToken token() {
    return token;
  }

  /** Runs at once when the kill was already under way: a kill is never lost. */
  @Override
  public void onKill(Runnable action) {
    killHooks.add(action);
  }

  @Override
  public void progress(double fraction) {
    // NaN passes Math.min and Math.max, and status replies would carry it as the string "NaN".
    progress = fraction >= 0 ? Math.min(1, fraction) : 0;
  }

  // --- lifecycle, for the worker ---

  /** Records the first reason to end this task; later ones do not change the outcome. */
  boolean requestEnding(Ending e) {
    return ending.compareAndSet(null, e);
  }

  public Ending ending() {
    return ending.get();
  }

  boolean cancelToken(String why) {
    return token.cancel(why);
  }

  /** Runs the kill hooks registered so far, and from now on every one registered later. */
  void runKillHooks() {
    killHooks.fire();
  }

  /**
   * Claims the start of this prefetched task for thread {@code t}. Fails if a stop or kill got to
   * it first: it is then never run. The stage and the thread change together, so a kill that sees
   * the task running can always interrupt it, and one that does not never interrupts this thread.
   *
   * @param deadlineOrNull when its deadline falls, for {@code control status}
   * @return whether the caller may run the handler
   */
  public boolean start(Thread t, Instant deadlineOrNull) {
    // One step under the lock that interrupts take: a kill either finds the task not started
    // (and it never runs) or running with its thread known. Setting the thread first and the
    // stage after let a kill in between interrupt a thread that then never ran the handler.
    synchronized (threadLock) {
      if (!stage.compareAndSet(Stage.PREFETCHED, Stage.RUNNING)) {
        return false;
      }
      thread = t;
    }
    startedAt = Instant.now();
    startNanos = System.nanoTime();
    deadline = deadlineOrNull;
    return true;
  }

  /**
   * The handler returned or threw. After this no interrupt reaches its thread, so the caller may
   * clear the thread's interrupt flag and settle without a stray interrupt breaking its waits (as
   * {@code FutureTask.cancel(true)} guarantees its runner).
   */
  void handlerEnded() {
    Future<?> kill;
    synchronized (threadLock) {
      handlerEnded = true;
      thread = null;
      kill = pendingKill;
      pendingKill = null;
    }
    if (kill != null) {
      kill.cancel(false);
    }
  }

  /**
   * The kill that a stop scheduled for the end of its grace: cancelled when the handler ends first
   * (at once if it has ended already), so that the timer lets go of this run.
   */
  void pendingKill(Future<?> kill) {
    boolean ended;
    synchronized (threadLock) {
      ended = handlerEnded;
      if (!ended) {
        pendingKill = kill;
      }
    }
    if (ended) {
      kill.cancel(false);
    }
  }

  /**
   * Interrupts the handler's thread if the handler is still running.
   *
   * @return whether a thread was interrupted
   */
  boolean interruptHandler() {
    synchronized (threadLock) {
      if (thread == null || handlerEnded) {
        return false;
      }
      thread.interrupt();
      return true;
    }
  }

  /** Whether a handler thread still runs this task (it may ignore its kill). */
  boolean handlerRunning() {
    synchronized (threadLock) {
      return thread != null && !handlerEnded;
    }
  }

  /** True once the handler returned or threw, or the run was settled without it. */
  public boolean isFinished() {
    return handlerEnded || settled.get();
  }

  /**
   * Moves the task up the ladder to {@code next}, never down: stages change only forward, so
   * concurrent stops and kills each take a step at most once.
   *
   * @return whether this call made the move (false if the task was at or past it already)
   */
  boolean advance(Stage next) {
    return advanceFrom(next) != null;
  }

  /**
   * {@link #advance}, telling from where.
   *
   * @return the stage the task was at when this call moved it, or null if it did not
   */
  Stage advanceFrom(Stage next) {
    while (true) {
      Stage current = stage.get();
      if (current.compareTo(next) >= 0) {
        return null;
      }
      if (stage.compareAndSet(current, next)) {
        return current;
      }
    }
  }

  public Stage stage() {
    return stage.get();
  }

  /** Whether the broker took the message back: this worker must not settle it on its tag. */
  public boolean leaseLost() {
    return lease != null && lease.lost();
  }

  /** Claims the one settlement of this run; only the caller that gets true may settle. */
  public boolean claimSettlement() {
    return settled.compareAndSet(false, true);
  }

  public void completed(Outcome outcome) {
    done.complete(outcome);
  }

  /** Completes with the outcome once the run is settled. */
  public CompletableFuture<Outcome> done() {
    return done;
  }

  public Long durationMs() {
    return startedAt == null ? null : (System.nanoTime() - startNanos) / 1_000_000;
  }

  public Instant startedAt() {
    return startedAt;
  }

  public Instant deadline() {
    return deadline;
  }

  /** What the task threads were handed to run this task (so that it can be withdrawn). */
  void queuedAs(Runnable queued) {
    this.queuedAs = queued;
  }

  Runnable queuedAs() {
    return queuedAs;
  }

  /** Under {@code --isolation process}: the child JVM that runs this task, for {@link #status}. */
  public void runsIn(Supplier<WorkerStatus.ChildProcess> child) {
    this.child = child;
  }

  public WorkerStatus.RunningTask status() {
    Instant start = startedAt;
    Supplier<WorkerStatus.ChildProcess> in = child;
    return new WorkerStatus.RunningTask(
        task.id(),
        task.type(),
        attempt,
        start,
        start == null ? 0 : Duration.between(start, Instant.now()).toMillis(),
        deadline,
        stage.get().wire(),
        progress,
        in == null ? null : in.get());
  }

  @Override
  public String toString() {
    return task.type() + ":" + task.id() + "#" + attempt;
  }
}
