package dev.conveyor.worker.handlers;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counts of what the {@code exec} type had to clean up or could not see, for this process's
 * metrics. Process-wide, like the processes they count.
 */
public final class ExecStats {
  private ExecStats() {}

  static final LongAdder TREE_WALK_FAILURES = new LongAdder();
  static final LongAdder LEFTOVERS_ENDED = new LongAdder();
  static final LongAdder ORPHANS_ENDED = new LongAdder();

  /**
   * Times a process tree could not be read from {@code /proc} and the slower walk over every
   * process was used instead.
   */
  public static long treeWalkFailures() {
    return TREE_WALK_FAILURES.sum();
  }

  /** Processes still running when their task had ended (daemons, background jobs), killed. */
  public static long leftoversEnded() {
    return LEFTOVERS_ENDED.sum();
  }

  /** Processes of tasks whose worker is gone (killed, crashed), killed by this one. */
  public static long orphansEnded() {
    return ORPHANS_ENDED.sum();
  }
}
