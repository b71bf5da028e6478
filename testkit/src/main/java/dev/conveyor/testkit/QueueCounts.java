package dev.conveyor.testkit;

/**
 * A queue's messages as the broker counts them: ready for delivery, and delivered but not yet
 * acknowledged. Both zero means the broker holds nothing of that queue's work any more.
 */
public record QueueCounts(long ready, long unacked) {
  public static final QueueCounts EMPTY = new QueueCounts(0, 0);
}
