package dev.conveyor.worker.execution;

import dev.conveyor.worker.api.CancellationToken;
import dev.conveyor.worker.api.TaskCancelledException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A one-shot cancellation flag that waiters see at once, not at their next poll. */
public final class Token implements CancellationToken {
  private static final Logger log = LoggerFactory.getLogger(Token.class);

  private final CountDownLatch cancelled = new CountDownLatch(1);
  private final OneShot listeners = new OneShot(e -> log.warn("cancellation listener failed", e));
  private volatile String reason;

  /** Sets the flag; returns false if it was already set. */
  public boolean cancel(String why) {
    synchronized (this) {
      if (reason != null) {
        return false;
      }
      reason = why;
    }
    cancelled.countDown();
    listeners.fire();
    return true;
  }

  @Override
  public boolean isCancelled() {
    return reason != null;
  }

  @Override
  public void throwIfCancelled() throws TaskCancelledException {
    if (reason != null) {
      throw new TaskCancelledException(reason);
    }
  }

  @Override
  public boolean await(Duration timeout) throws InterruptedException {
    return cancelled.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  @Override
  public void onCancel(Runnable action) {
    listeners.add(action);
  }

  @Override
  public String reason() {
    return reason;
  }
}
