package dev.conveyor.control;

import java.time.Duration;
import java.time.Instant;

/** Short human renderings of ages and deadlines. */
final class Ages {
  private Ages() {}

  /** {@code 850ms}, {@code 12.3s}, {@code 4m05s}, {@code 2h03m}. */
  static String of(long millis) {
    long ms = Math.max(0, millis);
    if (ms < 1000) {
      return ms + "ms";
    }
    if (ms < 60_000) {
      return String.format("%d.%ds", ms / 1000, (ms % 1000) / 100);
    }
    long s = ms / 1000;
    if (s < 3600) {
      return String.format("%dm%02ds", s / 60, s % 60);
    }
    return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
  }

  /** {@code in 27.0s} or {@code 3.0s ago}, relative to {@code now}. */
  static String until(Instant deadline, Instant now) {
    long ms = Duration.between(now, deadline).toMillis();
    return ms >= 0 ? "in " + of(ms) : of(-ms) + " ago";
  }
}
