package dev.conveyor.protocol.wire;

/** AMQP header names Conveyor reads or writes, in one place so that other clients can follow. */
public final class Headers {
  private Headers() {}

  /** Every header Conveyor itself writes starts with this. */
  public static final String PREFIX = "x-conveyor-";

  /**
   * Headers the broker adds while it redelivers or dead-letters a message: a copy published anew
   * must not carry them, or its history would start over wrong.
   */
  public static boolean isBrokerBookkeeping(String header) {
    return header.equals(DELIVERY_COUNT)
        || header.equals("x-death")
        || header.startsWith("x-first-death-")
        || header.startsWith("x-last-death-");
  }

  /** Set by quorum queues on redelivery: how many earlier deliveries were returned. */
  public static final String DELIVERY_COUNT = "x-delivery-count";

  /** Attempts already used before this copy of the message was published (retries). */
  public static final String ATTEMPTS_USED = "x-conveyor-attempts-used";

  /** Why a message is in {@code ns.dead}. */
  public static final String DEAD_REASON = "x-conveyor-reason";

  /** The cause word (docs/design.md) of a dead letter. */
  public static final String DEAD_CAUSE = "x-conveyor-cause";

  /** The task queue a dead letter came from, so that replay knows where to send it back. */
  public static final String ORIGIN_QUEUE = "x-conveyor-queue";

  /** A short history of the attempts, one line each, for dead letters. */
  public static final String HISTORY = "x-conveyor-history";

  /** The worker that dead-lettered the message. */
  public static final String WORKER = "x-conveyor-worker";

  /** HMAC-SHA256 of a control message body, hex (docs/protocol.md). */
  public static final String SIGNATURE = "x-conveyor-signature";

  /**
   * Marks a worker's entry in the control log, not a command: a marker (empty), which a starting
   * worker reads back to know it has replayed the log, or a checkpoint (docs/design.md).
   */
  public static final String MARKER = "x-conveyor-marker";
}
