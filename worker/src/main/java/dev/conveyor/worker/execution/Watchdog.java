package dev.conveyor.worker.execution;

import dev.conveyor.protocol.Durations;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * Enforces each task's deadline: at {@code timeoutMs} after start it asks the ladder to stop the
 * task, with a kill {@code graceMs} later. Timers are scheduled on the same thread as the ladder's,
 * so the escalation is as punctual as the JVM's scheduler.
 */
public final class Watchdog {

  private final ScheduledExecutorService timer;
  private final EscalationLadder ladder;
  private final Optional<Duration> defaultTimeout;
  private final Duration defaultGrace;

  public Watchdog(
      ScheduledExecutorService timer,
      EscalationLadder ladder,
      Optional<Duration> defaultTimeout,
      Duration defaultGrace) {
    this.timer = timer;
    this.ladder = ladder;
    this.defaultTimeout = defaultTimeout;
    this.defaultGrace = defaultGrace;
  }

  /**
   * The thread that times deadlines and escalations: one thread, so the ladder's steps never race.
   * A deadline cancelled because its task ended leaves the timer's queue at once: by default it
   * would stay there until its due time, and a worker running short tasks under a long timeout
   * would hold one per task it ran in that time.
   */
  public static ScheduledExecutorService newTimer(ThreadFactory threads) {
    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, threads);
    timer.setRemoveOnCancelPolicy(true);
    return timer;
  }

  /** The timeout that applies to a task, if any. */
  public Optional<Duration> timeoutOf(TaskRun run) {
    Long ms = run.task().timeoutMs();
    return ms != null ? Optional.of(Duration.ofMillis(ms)) : defaultTimeout;
  }

  public Duration graceOf(TaskRun run) {
    Long ms = run.task().graceMs();
    return ms != null ? Duration.ofMillis(ms) : defaultGrace;
  }

  /** The deadline a task gets if it starts now, or null. */
  public Instant deadlineFromNow(TaskRun run) {
    return timeoutOf(run).map(t -> Instant.now().plus(t)).orElse(null);
  }

  /**
   * Starts the deadline clock of a task that has just started.
   *
   * @return the timer to cancel when the task ends, or null when it has no deadline
   */
  public ScheduledFuture<?> arm(TaskRun run) {
    return timeoutOf(run)
        .<ScheduledFuture<?>>map(
            timeout ->
                timer.schedule(
                    () -> ladder.stop(run, Ending.deadline(), graceOf(run)),
                    Durations.delayNanos(timeout),
                    TimeUnit.NANOSECONDS))
        .orElse(null);
  }
}
