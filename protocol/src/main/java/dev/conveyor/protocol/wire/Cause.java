package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonValue;

/** Why a task attempt ended the way it did; every outcome event names one (docs/design.md). */
public enum Cause {
  HANDLER("handler"),
  USER_STOP("user-stop"),
  USER_KILL("user-kill"),
  DEADLINE("deadline"),
  WORKER_LOST("worker-lost"),
  SHUTDOWN("shutdown"),
  CONNECTION_LOST("connection-lost"),
  EXPIRED("expired"),
  REVOKED("revoked"),
  REJECTED("rejected");

  private final String wire;

  Cause(String wire) {
    this.wire = wire;
  }

  @JsonValue
  public String wire() {
    return wire;
  }

  /** Requeues for these causes are not the task's fault, so they do not use up an attempt. */
  public boolean sparesAttempt() {
    return this == SHUTDOWN || this == CONNECTION_LOST || this == USER_STOP || this == USER_KILL;
  }
}
