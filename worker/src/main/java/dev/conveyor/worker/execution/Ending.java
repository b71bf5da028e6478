package dev.conveyor.worker.execution;

import dev.conveyor.protocol.wire.Cause;

/**
 * Why a task is being ended before it finished on its own: who asked, and whether its message goes
 * back to the queue afterwards.
 */
public record Ending(Cause cause, boolean requeue, String issuedBy) {

  public static Ending deadline() {
    return new Ending(Cause.DEADLINE, false, null);
  }

  public static Ending shutdown() {
    return new Ending(Cause.SHUTDOWN, true, null);
  }

  public static Ending connectionLost() {
    return new Ending(Cause.CONNECTION_LOST, true, null);
  }
}
