package dev.conveyor.worker.execution;

import dev.conveyor.protocol.wire.Cause;

/** How one attempt of a task ended; the settler turns it into exactly one broker settlement. */
public sealed interface Outcome {

  /** The outcomes settled by an ack alone: nothing is published but the outcome event. */
  sealed interface Acked extends Outcome {}

  /** The handler returned. */
  record Succeeded(Object result) implements Acked {}

  /** The handler threw; retried while attempts remain. */
  record Failed(String reason) implements Outcome {}

  /** The deadline stopped (or killed) it; retried while attempts remain. */
  record TimedOut(String reason) implements Outcome {}

  /** Ended on request and not run again (user stop/kill, or revoked before it ran). */
  record Cancelled(Cause cause, String issuedBy) implements Acked {}

  /** Ended and handed back to the queue without using up an attempt. */
  record Requeued(Cause cause, String issuedBy) implements Outcome {}

  /** Can never run: malformed, unknown type, too large, or refused by its handler. */
  record Rejected(String reason) implements Outcome {}

  /** Its {@code expiresAt} passed before it started. */
  record Expired(String reason) implements Outcome {}

  /** Earlier deliveries were lost with their workers until no attempt was left. */
  record AttemptsExhausted(String reason) implements Outcome {}
}
