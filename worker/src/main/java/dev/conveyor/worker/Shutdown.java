package dev.conveyor.worker;

import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.worker.execution.Ending;
import dev.conveyor.worker.execution.EscalationLadder;
import dev.conveyor.worker.execution.Outcome;
import dev.conveyor.worker.execution.RunningTasks;
import dev.conveyor.worker.execution.Stage;
import dev.conveyor.worker.execution.TaskRun;
import dev.conveyor.worker.execution.TaskRunner;
import dev.conveyor.worker.messaging.Consumers;
import dev.conveyor.worker.messaging.Settler;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The steps by which a worker stops its tasks (docs/design.md): the graceful shutdown of SIGTERM
 * ({@link #graceful}) and the termination when a task survives its kill ({@link #terminate}). Both
 * stop the intake first, say so, and leave no task unsettled: what has not ended by then goes back
 * to the queue without using up an attempt. The {@link Worker} decides when, and releases what it
 * owns afterwards.
 */
final class Shutdown {
  private static final Logger log = LoggerFactory.getLogger(Shutdown.class);

  /** What a shutdown drives: the worker's intake and the tasks it holds. */
  record Tasks(
      Consumers intake,
      RunningTasks running,
      EscalationLadder ladder,
      TaskRunner runner,
      Settler settler) {}

  /** Announces a worker event that names tasks ({@code worker.stopping}, {@code terminating}). */
  @FunctionalInterface
  interface Announce {
    void worker(String state, List<String> tasks);
  }

  private final Tasks tasks;
  private final Announce announce;
  private final Duration shutdownGrace;
  private final Duration killGrace;
  private volatile boolean skipGrace;

  /**
   * @param shutdownGrace how long running tasks may take to finish
   * @param killGrace how long a stopped task may take to end before it is killed
   */
  Shutdown(Tasks tasks, Announce announce, Duration shutdownGrace, Duration killGrace) {
    this.tasks = tasks;
    this.announce = announce;
    this.shutdownGrace = shutdownGrace;
    this.killGrace = killGrace;
  }

  /**
   * Stops taking tasks, hands back those that have not started, lets the running ones finish within
   * the shutdown grace, then stops (or, after {@link #skipGrace}, kills) and requeues the rest.
   */
  void graceful() {
    tasks.intake().stopForGood();
    announce.worker(WorkerEvent.STOPPING, tasks.running().ids());
    handBackPrefetched();
    log.info("shutting down; {} task(s) running", tasks.running().size());
    awaitRunning(shutdownGrace);
    List<TaskRun> left = tasks.running().all();
    if (left.isEmpty()) {
      return;
    }
    log.info("stopping {} task(s) that did not finish within the shutdown grace", left.size());
    if (skipGrace) {
      tasks.ladder().kill(left, Ending.shutdown());
    } else {
      for (TaskRun run : left) {
        tasks.ladder().stop(run, Ending.shutdown(), killGrace);
      }
    }
    skipGrace = false;
    awaitRunning(killGrace.multipliedBy(2).plusMillis(100));
    requeueWhatIsLeft();
  }

  /**
   * A task survived its kill: it is settled as its ending says, every other task is killed, what is
   * left is requeued, and the worker says it is terminating.
   */
  void terminate(TaskRun stuck) {
    tasks.intake().stopForGood();
    tasks
        .settler()
        .settle(stuck, TaskRunner.decide(stuck, null, new InterruptedException("stuck")));
    tasks.ladder().kill(tasks.running().all(), Ending.shutdown());
    awaitRunning(killGrace);
    requeueWhatIsLeft();
    announce.worker(WorkerEvent.TERMINATING, List.of(stuck.taskId()));
  }

  /** The second SIGTERM: running tasks are waited for no longer. */
  void skipGrace() {
    skipGrace = true;
    tasks.running().wakeWaiters();
  }

  /**
   * Tasks that wait for a thread have not started: they go back to the queue at once (their attempt
   * not used), for another worker to run now rather than after this one's shutdown grace.
   */
  private void handBackPrefetched() {
    for (TaskRun run : tasks.running().all()) {
      if (run.stage() == Stage.PREFETCHED && tasks.ladder().stop(run, Ending.shutdown(), null)) {
        tasks.runner().settleUnstarted(run);
      }
    }
  }

  /**
   * Hands back every task still held, without using up its attempt; a task whose thread still runs
   * is settled all the same (its own settlement later is a no-op).
   */
  private void requeueWhatIsLeft() {
    for (TaskRun run : tasks.running().all()) {
      tasks.settler().settle(run, new Outcome.Requeued(Cause.SHUTDOWN, null));
    }
  }

  private void awaitRunning(Duration timeout) {
    try {
      tasks.running().awaitEmpty(timeout, () -> skipGrace);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
