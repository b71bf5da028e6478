package dev.conveyor.protocol.wire;

import java.time.Instant;

/**
 * {@link Instant#toString()}'s text (ISO-8601, UTC, the fraction in groups of three digits as
 * needed), with the date and time up to the second kept from the previous call: a busy worker
 * stamps thousands of events a second, and the formatter spent most of its time on the part that
 * changes once a second. Reading such a text back ({@link Reader}) keeps the last second the same
 * way: tasks published together carry {@code createdAt}s of the same second.
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

  /**
   * Reads such texts back, keeping the second it read last the same way. One per field: the two
   * instants of one task ({@code createdAt}, {@code expiresAt}) fall in different seconds.
   */
  static final class Reader {

    /** The second read last, in {@link Instant#toString()}'s form. */
    private volatile Second last = second(0);

    /**
     * What {@link Instant#parse} returns for {@code text}, and throws for it. A text that begins
     * with the second read last and ends in {@code Z}, with no fraction or with one of 1 to 9
     * digits, is read here; any other is left to {@link Instant#parse}, and its second is
     * remembered.
     *
     * @throws java.time.format.DateTimeParseException if the text is not an instant
     */
    Instant parse(String text) {
      Second s = last;
      String prefix = s.text();
      int at = prefix.length();
      if (text.length() > at && text.startsWith(prefix)) {
        long nanos = fraction(text, at);
        if (nanos >= 0) {
          return Instant.ofEpochSecond(s.epochSecond(), nanos);
        }
      }
      Instant instant = Instant.parse(text);
      if (instant.getEpochSecond() != s.epochSecond()) {
        last = second(instant.getEpochSecond());
      }
      return instant;
    }
  }

  /**
   * The nanoseconds of {@code Z} or {@code .ddd…Z} (1 to 9 digits) that end {@code text} at {@code
   * from}; -1 for anything else.
   */
  private static long fraction(String text, int from) {
    int end = text.length() - 1;
    if (end < from || text.charAt(end) != 'Z') {
      return -1;
    }
    if (end == from) {
      return 0;
    }
    int digits = end - from - 1;
    if (text.charAt(from) != '.' || digits < 1 || digits > 9) {
      return -1;
    }
    long value = 0;
    for (int i = from + 1; i < end; i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    for (int i = digits; i < 9; i++) {
      value *= 10;
    }
    return value;
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
