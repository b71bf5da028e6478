package dev.conveyor.protocol.wire;

import java.time.Instant;

/**
 * {@link Instant#toString()}'s text (ISO-8601, UTC, the fraction in groups of three digits as
 * needed), with the date and time up to the second kept from the previous call: a busy worker
 * stamps thousands of events a second, and the formatter spent most of its time on the part that
 * changes once a second.
 */
final class InstantText {

  private record Second(long epochSecond, String text) {}

  /** Immutable, so a racing reader sees a whole pair or the previous one. */
  private static volatile Second last = second(0);

  private InstantText() {}

  static String of(Instant instant) {
    long epochSecond = instant.getEpochSecond();
    Second s = last;
    if (s.epochSecond() != epochSecond) {
      s = second(epochSecond);
      last = s;
    }
    int nanos = instant.getNano();
    if (nanos == 0) {
      return s.text() + 'Z';
    }
    StringBuilder b = new StringBuilder(s.text().length() + 11).append(s.text()).append('.');
    if (nanos % 1_000_000 == 0) {
      digits(b, nanos / 1_000_000, 3);
    } else if (nanos % 1_000 == 0) {
      digits(b, nanos / 1_000, 6);
    } else {
      digits(b, nanos, 9);
    }
    return b.append('Z').toString();
  }

  /** The text of the second, without its 'Z': what the JDK writes, years past 9999 included. */
  private static Second second(long epochSecond) {
    String whole = Instant.ofEpochSecond(epochSecond).toString();
    return new Second(epochSecond, whole.substring(0, whole.length() - 1));
  }

  private static void digits(StringBuilder b, int value, int width) {
    String text = Integer.toString(value);
    b.repeat('0', width - text.length()).append(text);
  }
}
