package dev.conveyor.producer;

import java.time.Duration;

/**
 * When a publisher waiting for confirms gives up. The confirm timeout counts from the last sign
 * that the broker is moving: a confirm, a block it announced (a blocked broker is not a failing
 * one), or the end of such a block.
 *
 * <p>Pure and not thread-safe: {@link TaskPublisher} calls it under its lock, with the time read
 * from its clock, so a test decides when everything happens.
 */
final class ConfirmWait {

  private final long timeoutNanos;
  private long since;
  private int lastPending = -1; // none yet: the first look starts the count
  private long lastUnblocks;

  ConfirmWait(Duration timeout) {
    this.timeoutNanos = timeout.toNanos();
  }

  /**
   * Nanoseconds left before the wait gives up, at most the timeout; zero or less once it has.
   *
   * @param pending the publishes not yet confirmed
   * @param blocked whether the broker blocks publishers now
   * @param unblocks how many blocks the broker has ended so far
   */
  long left(long now, int pending, boolean blocked, long unblocks) {
    if (pending != lastPending || blocked || unblocks != lastUnblocks) {
      lastPending = pending;
      lastUnblocks = unblocks;
      since = now;
    }
    return since + timeoutNanos - now;
  }
}
