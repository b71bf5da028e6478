package dev.conveyor.worker.execution;

/** How far a task has gone up the escalation ladder; shown by {@code control status}. */
public enum Stage {
  WAITING,
  RUNNING,
  STOPPING,
  KILLING,
  STUCK;

  public String wire() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
