package dev.conveyor.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class InstantTextTest {

  @Test
  void writesWhatInstantToStringWrites() {
    long[] seconds = {0, -1, 1_764_720_000L, 253_402_300_799L, 253_402_300_800L, -62_167_219_200L};
    int[] nanos = {0, 1, 999_999_999, 500_000_000, 120_000, 7_000_000, 123_456_789, 1_000};
    for (long second : seconds) {
      for (int nano : nanos) {
        Instant instant = Instant.ofEpochSecond(second, nano);
        assertEquals(instant.toString(), InstantText.of(instant), () -> second + "s " + nano);
      }
    }
    // Mostly within a second of the last one, as a worker's events are; now and then not.
    for (Instant instant : stamps(42, Instant.now(), 10_000, 100, -10_000_000_000L)) {
      assertEquals(instant.toString(), InstantText.of(instant));
    }
  }

  /**
   * {@code n} instants within 3 s after {@code now}, every {@code jumpEvery}-th one instead at a
   * random second from {@code farFrom} to as far after the epoch; each in whole milliseconds,
   * microseconds or nanoseconds, in turn.
   */
  private static List<Instant> stamps(long seed, Instant now, int n, int jumpEvery, long farFrom) {
    SplittableRandom random = new SplittableRandom(seed);
    List<Instant> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Instant instant =
          i % jumpEvery == 0
              ? Instant.ofEpochSecond(random.nextLong(farFrom, -farFrom))
              : now.plusNanos(random.nextLong(0, 3_000_000_000L));
      out.add(Instant.ofEpochSecond(instant.getEpochSecond(), round(instant.getNano(), i % 3)));
    }
    return out;
  }

  /** Whole milliseconds, microseconds or nanoseconds, as clocks give them. */
  private static int round(int nanos, int kind) {
    return switch (kind) {
      case 0 -> nanos / 1_000_000 * 1_000_000;
      case 1 -> nanos / 1_000 * 1_000;
      default -> nanos;
    };
  }

  @Test
  void readsWhatInstantParseReads() {
    List<String> texts = new ArrayList<>();
    // Runs of the same second, as a producer's burst gives; now and then a jump.
    for (Instant instant :
        stamps(7, Instant.parse("2026-12-05T14:58:01.123Z"), 5_000, 50, -100_000_000_000L)) {
      texts.add(instant.toString());
    }
    String second = "2026-12-05T14:58:01";
    // After the second is remembered: every fraction width, and suffixes Instant.parse reads
    // differently or refuses.
    for (String tail :
        List.of(
            "Z",
            ".5Z",
            ".05Z",
            ".123456789Z",
            ".1234567890Z",
            ".Z",
            "z",
            ".5z",
            ".5",
            "",
            "+01:00",
            ".5+01:00",
            "Z ",
            ".5ZZ",
            ".-5Z",
            ".5 Z",
            ".12a4Z",
            "1Z",
            ":00Z")) {
      texts.add(second + ".7Z");
      texts.add(second + tail);
    }
    texts.addAll(
        List.of(
            "2026-12-31T23:59:59.5Z",
            "2026-12-31T23:59:60Z",
            "2026-12-31T23:59:60.25Z",
            "2026-12-31T23:59:59.25Z",
            "2026-12-31T24:00:00Z",
            "2027-01-01T00:00:00Z",
            "+10000-01-01T00:00:00.5Z",
            "+10000-01-01T00:00:00.25Z",
            "-0001-12-31T23:59:59.5Z",
            "-0001-12-31T23:59:59.75Z",
            "2026-12-05t14:58:01.5Z",
            "2026-12-05T14:58:01.5Z",
            "2026-12-05T14:58:02.5Z",
            "2026-13-05T14:58:02.5Z",
            "2026-12-05T14:58:02.5Z"));
    InstantText.Reader reader = new InstantText.Reader();
    for (String text : texts) {
      Instant expected;
      try {
        expected = Instant.parse(text);
      } catch (DateTimeParseException e) {
        assertThrows(DateTimeParseException.class, () -> reader.parse(text), text);
        continue;
      }
      assertEquals(expected, reader.parse(text), text);
      assertEquals(expected, reader.parse(text), () -> text + ", read again");
    }
  }
}
