package dev.conveyor.protocol.cli;

import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.UsageException;
import java.time.Duration;

/**
 * Range checks for numeric and duration flags, so that a value that parses but means nothing (a
 * zero timeout, a negative count) is refused before anything happens, with one line that names the
 * flag and the range it takes.
 */
public final class FlagChecks {

  /** The longest wait any program accepts: long enough for anything, far from overflowing. */
  public static final Duration LONGEST = Duration.ofDays(365);

  private FlagChecks() {}

  /**
   * @param value null when the flag was not given (nothing to check)
   * @throws UsageException unless {@code 1ms <= value <= max}
   */
  public static void between1msAnd(String flag, Duration value, Duration max) {
    if (value != null && (value.toMillis() < 1 || value.compareTo(max) > 0)) {
      throw new UsageException(
          flag + " must be between 1ms and " + describe(max) + " (got " + describe(value) + ")");
    }
  }

  /** {@link #between1msAnd} with {@link #LONGEST}. */
  public static void positive(String flag, Duration value) {
    between1msAnd(flag, value, LONGEST);
  }

  private static String describe(Duration d) {
    long day = Duration.ofDays(1).toMillis();
    return d.toMillis() >= day && d.toMillis() % day == 0 ? d.toDays() + "d" : Durations.format(d);
  }

  /**
   * @param value null when the flag was not given (nothing to check)
   * @throws UsageException if {@code value < min}
   */
  public static void atLeast(String flag, Number value, long min) {
    if (value != null && value.longValue() < min) {
      throw new UsageException(flag + " must be at least " + min + " (got " + value + ")");
    }
  }
}
