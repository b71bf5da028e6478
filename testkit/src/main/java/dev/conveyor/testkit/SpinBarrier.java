package dev.conveyor.testkit;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Releases racing threads within nanoseconds of each other, for tests that race one operation
 * against another thousands of times: a parked thread takes tens of microseconds to wake, longer
 * than the windows raced for. A party whose partners are later than the patience goes on alone, so
 * an overloaded machine slows a race test down but never hangs it.
 */
public final class SpinBarrier {
  private final AtomicInteger waiting;
  private final long patienceNanos;

  public SpinBarrier(int parties, Duration patience) {
    this.waiting = new AtomicInteger(parties);
    this.patienceNanos = patience.toNanos();
  }

  public void await() {
    waiting.decrementAndGet();
    long until = System.nanoTime() + patienceNanos;
    while (waiting.get() > 0 && System.nanoTime() < until) {
      Thread.onSpinWait();
    }
  }
}
