package dev.conveyor.worker.execution;

import dev.conveyor.protocol.Durations;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way a task is ended early, whoever asks (a user, a deadline, shutdown, a lost
 * connection): cooperative stop first, then kill, then — for a thread that survives the kill — the
 * worker gives up on itself.
 */
public final class EscalationLadder {
  private static final Logger log = LoggerFactory.getLogger(EscalationLadder.class);

  private final ScheduledExecutorService timer;
  private final Duration killGrace;
  private final Consumer<TaskRun> onStuck;
  private final java.util.function.BiConsumer<Stage, Ending> onStep;
  private final Consumer<TaskRun> onNotStarted;

  /**
   * @param timer runs escalations; kill hooks run on it and must not block
   * @param killGrace how long a killed task may take to end
   * @param onStuck called once for a task that did not end within the kill grace
   * @param onStep told of every step taken (stopping, killing, stuck), for metrics
   */
  public EscalationLadder(
      ScheduledExecutorService timer,
      Duration killGrace,
      Consumer<TaskRun> onStuck,
      java.util.function.BiConsumer<Stage, Ending> onStep) {
    this(timer, killGrace, onStuck, onStep, run -> {});
  }

  /**
   * @param onNotStarted told of a prefetched task that a stop or kill ended before it started: it
   *     will never run and can be settled at once (its task thread, when one frees up, skips it).
   *     Called on the stopping thread; must not block
   */
  public EscalationLadder(
      ScheduledExecutorService timer,
      Duration killGrace,
      Consumer<TaskRun> onStuck,
      java.util.function.BiConsumer<Stage, Ending> onStep,
      Consumer<TaskRun> onNotStarted) {
    this.timer = timer;
    this.killGrace = killGrace;
    this.onStuck = onStuck;
    this.onStep = onStep;
    this.onNotStarted = onNotStarted;
  }

  /**
   * Sets the task's cancellation token.
   *
   * @param killAfter when the task still runs after this long, kill it; null to never escalate
   * @return false if the task had already finished
   */
  public boolean stop(TaskRun run, Ending ending, Duration killAfter) {
    run.requestEnding(ending);
    if (run.isFinished()) {
      return false;
    }
    Stage from = run.advanceFrom(Stage.STOPPING);
    if (from == Stage.PREFETCHED) {
      onNotStarted.accept(run);
      return true;
    }
    if (from != null) {
      onStep.accept(Stage.STOPPING, ending);
    }
    run.cancelToken(ending.cause().wire());
    log.debug("stop {} ({})", run, ending.cause().wire());
    if (killAfter != null) {
      run.pendingKill(
          timer.schedule(
              () -> kill(run, ending), Durations.delayNanos(killAfter), TimeUnit.NANOSECONDS));
    }
    return true;
  }

  /**
   * Ends the task without asking: its kill hooks run (a child process tree gets SIGKILL) and its
   * thread is interrupted. If it is still running after the kill grace, {@code onStuck} decides.
   *
   * @return false if the task had already finished
   */
  public boolean kill(TaskRun run, Ending ending) {
    return !kill(List.of(run), ending).isEmpty();
  }

  /**
   * Kills several tasks at once: every task's signals go out before any of them is interrupted,
   * counted or timed, so that the last signal of a {@code kill --all} does not wait behind the
   * reaping and settling of the first tasks. Only the call that moves a task to {@link
   * Stage#KILLING} acts on it: a second kill neither signals, counts nor times it again.
   *
   * @return the tasks that were still running (already being killed counts)
   */
  public List<TaskRun> kill(List<TaskRun> runs, Ending ending) {
    List<TaskRun> acted = new ArrayList<>(runs.size());
    List<TaskRun> first = new ArrayList<>(runs.size());
    for (TaskRun run : runs) {
      run.requestEnding(ending);
      if (run.isFinished()) {
        continue;
      }
      acted.add(run);
      Stage from = run.advanceFrom(Stage.KILLING);
      if (from == Stage.PREFETCHED) {
        onNotStarted.accept(run);
      } else if (from != null) {
        first.add(run);
      }
    }
    // Hooks before the token: a kill is not a polite request first.
    for (TaskRun run : first) {
      run.runKillHooks();
    }
    for (TaskRun run : first) {
      run.cancelToken(ending.cause().wire());
      run.interruptHandler();
    }
    for (TaskRun run : first) {
      onStep.accept(Stage.KILLING, ending);
      log.debug("kill {} ({})", run, ending.cause().wire());
      timer.schedule(() -> checkStuck(run), killGrace.toNanos(), TimeUnit.NANOSECONDS);
    }
    return acted;
  }

  private void checkStuck(TaskRun run) {
    if (!run.isFinished() && run.handlerRunning() && run.advance(Stage.STUCK)) {
      onStep.accept(Stage.STUCK, run.ending());
      log.error("{} did not end within the kill grace of {}", run, killGrace);
      onStuck.accept(run);
    }
  }
}
