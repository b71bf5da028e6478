package dev.conveyor.worker.messaging;

import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskState;
import java.util.Locale;

/**
 * Which task events a worker publishes ({@code worker --events}). Worker events and command answers
 * are always published: {@code control} needs them to know who is alive and who obeyed.
 */
public enum EventLevel {
  /** Every task event: {@code running} and every outcome. */
  ALL,
  /**
   * Every outcome, not {@code running}: what {@code producer --wait} and {@code control stop}
   * follow. {@code failed} and {@code timed-out} stay, as they say why a task is retried or dead.
   */
  FINAL,
  /**
   * No task events, except {@code requeued} with cause {@code connection-lost}: other workers count
   * attempts by it (docs/design.md, "Attempts"), and without it a task redelivered after this
   * worker lost its connection could be dead-lettered as {@code worker-lost}.
   */
  NONE;

  /** Whether a worker at this level publishes a task event in this state and cause. */
  public boolean publishes(TaskState state, Cause cause) {
    return switch (this) {
      case ALL -> true;
      case FINAL -> state != TaskState.RUNNING;
      case NONE -> state == TaskState.REQUEUED && cause == Cause.CONNECTION_LOST;
    };
  }

  /** The word on the command line: all, final, none. */
  public String word() {
    return name().toLowerCase(Locale.ROOT);
  }
}
