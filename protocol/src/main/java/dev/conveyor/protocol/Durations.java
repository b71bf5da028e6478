package dev.conveyor.protocol;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;

/** Reads human durations such as {@code 500ms}, {@code 30s}, {@code 10m}, {@code 24h}. */
public final class Durations implements ITypeConverter<Duration> {

  private static final Pattern FORM = Pattern.compile("(\\d+)(ms|s|m|h|d)?");

  public static Duration parse(String text) {
    Matcher m = FORM.matcher(text == null ? "" : text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "invalid duration '" + text + "' (use e.g. 500ms, 30s, 10m, 2h, 1d)");
    }
    String unit = m.group(2) == null ? "s" : m.group(2);
    try {
      long n = Long.parseLong(m.group(1));
      return switch (unit) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        case "d" -> Duration.ofDays(n);
        default -> throw new IllegalStateException(unit);
      };
    } catch (ArithmeticException | NumberFormatException e) {
      throw new IllegalArgumentException(
          "invalid duration '" + text + "': too long (use e.g. 500ms, 30s, 10m, 2h, 1d)");
    }
  }

  /**
   * {@code d} in nanoseconds, or {@link Long#MAX_VALUE} for a span too long to count in them (about
   * 292 years), as a delay: one that long is never reached. {@link Duration#toNanos} throws there,
   * and a task's {@code timeoutMs} may be as long as a {@code long} holds.
   */
  public static long delayNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }

  public static String format(Duration d) {
    long ms = d.toMillis();
    if (ms % 1000 != 0) {
      return ms + "ms";
    }
    long s = ms / 1000;
    return s % 60 == 0 && s > 0 ? (s % 3600 == 0 ? s / 3600 + "h" : s / 60 + "m") : s + "s";
  }

  /** For picocli: a bad value is reported as just the reason, not the exception's class. */
  @Override
  public Duration convert(String value) {
    try {
      return parse(value);
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.TypeConversionException(e.getMessage());
    }
  }
}
