package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;

/** The states a task event announces; the event's routing key is {@code task.<wire name>}. */
public enum TaskState {
  RUNNING("running"),
  SUCCEEDED("succeeded"),
  FAILED("failed"),
  CANCELLED("cancelled"),
  TIMED_OUT("timed-out"),
  EXPIRED("expired"),
  REJECTED("rejected"),
  REQUEUED("requeued"),
  DEAD("dead");

  private final String wire;

  TaskState(String wire) {
    this.wire = wire;
  }

  @JsonValue
  public String wire() {
    return wire;
  }

  /** The routing key of events in this state on {@code ns.events}. */
  public String routingKey() {
    return "task." + wire;
  }

  /**
   * Whether no further event will follow for this task. {@code failed} and {@code timed-out} are
   * always followed by {@code requeued} or {@code dead}, so a waiter must not stop at them.
   */
  public boolean isFinal() {
    return switch (this) {
      case SUCCEEDED, CANCELLED, EXPIRED, REJECTED, DEAD -> true;
      case RUNNING, FAILED, TIMED_OUT, REQUEUED -> false;
    };
  }

  public static TaskState fromWire(String s) {
    return Arrays.stream(values())
        .filter(v -> v.wire.equals(s))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("unknown task state: " + s));
  }
}
