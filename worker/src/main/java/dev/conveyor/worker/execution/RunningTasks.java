package dev.conveyor.worker.execution;

import dev.conveyor.protocol.wire.Target;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The tasks this worker holds right now, and which of them a control target matches. */
public final class RunningTasks {

  private final Set<TaskRun> runs = ConcurrentHashMap.newKeySet();
  private final String workerName;

  public RunningTasks(String workerName) {
    this.workerName = workerName;
  }

  public void add(TaskRun run) {
    runs.add(run);
  }

  public void remove(TaskRun run) {
    synchronized (this) {
      runs.remove(run);
      notifyAll();
    }
  }

  public List<TaskRun> all() {
    return List.copyOf(runs);
  }

  public int size() {
    return runs.size();
  }

  public List<String> ids() {
    return runs.stream().map(TaskRun::taskId).sorted().toList();
  }

  /**
   * A run of this task whose message the broker took back and whose outcome is not known yet: until
   * its settlement is done, not only while its handler runs. A redelivery that came just after the
   * handler ended would otherwise run the task again before the outcome it is to be settled with is
   * recorded, and announce its start before that outcome.
   */
  public Optional<TaskRun> stillRunningAfterLoss(String taskId) {
    for (TaskRun run : runs) {
      if (run.leaseLost() && !run.done().isDone() && run.taskId().equals(taskId)) {
        return Optional.of(run);
      }
    }
    return Optional.empty();
  }

  /** The tasks a stop or kill with this target ends on this worker. */
  public List<TaskRun> matching(Target target) {
    return switch (target) {
      case Target.All a -> all();
      case Target.Tasks t -> runs.stream().filter(r -> t.ids().contains(r.taskId())).toList();
      case Target.Workers w -> w.names().contains(workerName) ? all() : List.of();
      case Target.Types t -> runs.stream().filter(r -> t.types().contains(r.type())).toList();
    };
  }

  /**
   * Waits until no task is held or the timeout passes.
   *
   * @return true if none is held
   */
  public boolean awaitEmpty(Duration timeout, java.util.function.BooleanSupplier giveUp)
      throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      while (!runs.isEmpty() && !giveUp.getAsBoolean()) {
        long left = end - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        wait(Math.max(1, left / 1_000_000));
      }
      return runs.isEmpty();
    }
  }

  /** Wakes {@link #awaitEmpty} waiters early (e.g. a second SIGTERM). */
  public void wakeWaiters() {
    synchronized (this) {
      notifyAll();
    }
  }
}
