package dev.conveyor.worker.execution;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.worker.api.CancellationToken;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One attempt of one task on this worker, from delivery to settlement: the lease on its message,
 * its cancellation token, the thread that runs it and how far it is up the escalation ladder.
 */
public final class TaskRun implements TaskContext {

  private final TaskMessage task;
  private final Lease lease;
  private final int attempt;
  private final TaskHandler handler;
  private final Token token = new Token();
  private final List<Runnable> killHooks = new CopyOnWriteArrayList<>();
  private final AtomicReference<Ending> ending = new AtomicReference<>();
  private final AtomicBoolean settled = new AtomicBoolean();
  private final CompletableFuture<Outcome> done = new CompletableFuture<>();
  private volatile Stage stage = Stage.WAITING;
  private volatile Thread thread;
  private volatile Instant startedAt;
  private volatile long startNanos;
  private volatile Instant deadline;
  private volatile boolean leaseLost;
  private volatile boolean handlerEnded;
  private volatile Double progress;

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
  public JsonNode payload() {
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

  @Override
  public void onKill(Runnable action) {
    killHooks.add(action);
  }

  @Override
  public void progress(double fraction) {
    progress = Math.max(0, Math.min(1, fraction));
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

  List<Runnable> killHooks() {
    return killHooks;
  }

  void started(Thread t, Instant deadlineOrNull) {
    thread = t;
    startedAt = Instant.now();
    startNanos = System.nanoTime();
    deadline = deadlineOrNull;
    if (stage == Stage.WAITING) {
      stage = Stage.RUNNING;
    }
  }

  void handlerEnded() {
    handlerEnded = true;
    thread = null;
  }

  /** True once the handler returned or threw, or the run was settled without it. */
  public boolean isFinished() {
    return handlerEnded || settled.get();
  }

  Thread thread() {
    return thread;
  }

  void stage(Stage s) {
    stage = s;
  }

  public Stage stage() {
    return stage;
  }

  /** The broker took the message back: this worker must not ack it any more. */
  public void loseLease() {
    leaseLost = true;
  }

  public boolean leaseLost() {
    return leaseLost;
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

  public WorkerStatus.RunningTask status() {
    Instant start = startedAt;
    return new WorkerStatus.RunningTask(
        task.id(),
        task.type(),
        attempt,
        start,
        start == null ? 0 : Duration.between(start, Instant.now()).toMillis(),
        deadline,
        stage.wire(),
        progress);
  }

  @Override
  public String toString() {
    return task.type() + ":" + task.id() + "#" + attempt;
  }
}
