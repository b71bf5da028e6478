package dev.conveyor.worker.api;

import java.time.Duration;

/**
 * The cooperative half of cancellation: a flag a handler checks (or waits on) so that it can close
 * its files, connections and locks before it ends. It is always the first resort; a forced kill
 * follows only if the handler does not end in time.
 */
public interface CancellationToken {

  boolean isCancelled();

  /**
   * Ends the handler at a safe point.
   *
   * @throws TaskCancelledException if cancellation was requested
   */
  void throwIfCancelled() throws TaskCancelledException;

  /**
   * Waits until cancellation is requested or the timeout passes; a cooperative replacement for
   * {@code Thread.sleep}.
   *
   * @return true if cancelled
   */
  boolean await(Duration timeout) throws InterruptedException;

  /** Runs {@code action} once when cancellation is requested (at once if it already was). */
  void onCancel(Runnable action);

  /** Why cancellation was requested, or null. */
  String reason();
}
