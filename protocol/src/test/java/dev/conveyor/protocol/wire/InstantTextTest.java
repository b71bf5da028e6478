package dev.conveyor.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
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
    SplittableRandom random = new SplittableRandom(42);
    Instant now = Instant.now();
    for (int i = 0; i < 10_000; i++) {
      // Mostly within a second of the last one, as a worker's events are; now and then not.
      Instant instant =
          i % 100 == 0
              ? Instant.ofEpochSecond(random.nextLong(-10_000_000_000L, 10_000_000_000L))
              : now.plusNanos(random.nextLong(0, 3_000_000_000L));
      instant = Instant.ofEpochSecond(instant.getEpochSecond(), round(instant.getNano(), i % 3));
      assertEquals(instant.toString(), InstantText.of(instant));
    }
  }

  /** Whole milliseconds, microseconds or nanoseconds, as clocks give them. */
  private static int round(int nanos, int kind) {
    return switch (kind) {
      case 0 -> nanos / 1_000_000 * 1_000_000;
      case 1 -> nanos / 1_000 * 1_000;
      default -> nanos;
    };
  }
}
