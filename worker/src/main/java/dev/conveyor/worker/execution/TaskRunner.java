package dev.conveyor.worker.execution;

import dev.conveyor.worker.api.TaskRejectedException;
import java.util.concurrent.ScheduledFuture;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs handlers on the worker's task threads and decides each attempt's outcome. */
public final class TaskRunner {
  private static final Logger log = LoggerFactory.getLogger(TaskRunner.class);

  private final TaskThreads.Tasks threads;
  private final Watchdog watchdog;
  private final Consumer<TaskRun> onStart;
  private final BiConsumer<TaskRun, Outcome> settle;

  /**
   * @param threads the task threads (their task side), which run at most the concurrency at once
   * @param onStart announces a task that is about to run
   * @param settle settles an attempt exactly once
   */
  public TaskRunner(
      TaskThreads.Tasks threads,
      Watchdog watchdog,
      Consumer<TaskRun> onStart,
      BiConsumer<TaskRun, Outcome> settle) {
    this.threads = threads;
    this.watchdog = watchdog;
    this.onStart = onStart;
    this.settle = settle;
  }

  public void submit(TaskRun run) {
    Runnable queued = () -> runGuarded(run);
    run.queuedAs(queued);
    threads.execute(queued);
  }

  /**
   * Whatever breaks around the handler (an announcement, a class that no longer loads), the run is
   * still settled, so that nothing waits for it forever; a second settlement is a no-op.
   */
  private void runGuarded(TaskRun run) {
    try {
      run(run);
    } catch (Throwable t) {
      log.error("worker error around {}", run, t);
      settle.accept(run, new Outcome.Failed("worker error: " + describe(t)));
    }
  }

  private void run(TaskRun run) {
    if (run.ending() != null
        || run.leaseLost()
        || !run.start(Thread.currentThread(), watchdog.deadlineFromNow(run))) {
      // Stopped while it waited for a thread: it never runs.
      settleUnstarted(run);
      return;
    }
    ScheduledFuture<?> deadline = watchdog.arm(run);
    onStart.accept(run);
    Object result = null;
    Throwable error = null;
    try {
      result = run.handler().handle(run);
    } catch (Throwable t) {
      error = t;
    } finally {
      run.handlerEnded();
      if (deadline != null) {
        deadline.cancel(false);
      }
      Thread.interrupted();
    }
    if (error instanceof Error e && !(e instanceof StackOverflowError)) {
      log.error("{} threw {}", run, e.toString());
    }
    settle.accept(run, decide(run, result, error));
  }

  /**
   * Settles a task that was ended before it started (usually already done by whoever ended it; a
   * second settlement is a no-op).
   */
  public void settleUnstarted(TaskRun run) {
    withdraw(run);
    settle.accept(run, decide(run, null, new InterruptedException("ended before it started")));
  }

  /**
   * Takes a run that will never start out of the task threads' queue, where it would hold its
   * payload until a thread frees up: each stop of a prefetched task frees a slot that the broker
   * fills again, so while every thread is busy such runs would pile up.
   */
  private void withdraw(TaskRun run) {
    Runnable queued = run.queuedAs();
    if (queued != null) {
      threads.remove(queued);
    }
  }

  /**
   * The outcome of an attempt, from how the handler ended and why it was asked to end. Whether the
   * lease is still held is the settler's to find out, at the moment it settles: an outcome is what
   * happened to the task, not to its message.
   */
  public static Outcome decide(TaskRun run, Object result, Throwable error) {
    Ending ending = run.ending();
    if (ending == null && run.leaseLost()) {
      // Not yet told of the loss (its write-off comes next): the loss is why it ended.
      ending = Ending.connectionLost();
    }
    if (error == null) {
      return new Outcome.Succeeded(result);
    }
    if (error instanceof TaskRejectedException r) {
      return new Outcome.Rejected(r.getMessage());
    }
    if (ending == null) {
      return new Outcome.Failed(describe(error));
    }
    return switch (ending.cause()) {
      case DEADLINE -> new Outcome.TimedOut("timeout");
      case USER_STOP, USER_KILL, REVOKED ->
          ending.requeue()
              ? new Outcome.Requeued(ending.cause(), ending.issuedBy())
              : new Outcome.Cancelled(ending.cause(), ending.issuedBy());
      case SHUTDOWN, CONNECTION_LOST, WORKER_LOST ->
          new Outcome.Requeued(ending.cause(), ending.issuedBy());
      case HANDLER, EXPIRED, REJECTED -> new Outcome.Failed(describe(error));
    };
  }

  static String describe(Throwable t) {
    String msg = t.getMessage();
    String text = msg == null || msg.isBlank() ? t.getClass().getSimpleName() : msg;
    return text.length() > 500 ? text.substring(0, 500) + "…" : text;
  }
}
