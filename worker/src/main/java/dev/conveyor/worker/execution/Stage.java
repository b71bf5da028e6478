package dev.conveyor.worker.execution;

/**
 * How far a task has gone, from delivery up the escalation ladder; shown by {@code control status}.
 */
public enum Stage {
  /** Delivered (prefetched) and waiting for a free task thread: not running, no deadline yet. */
  PREFETCHED,
  RUNNING,
  STOPPING,
  KILLING,
  STUCK;

  public String wire() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
