package dev.conveyor.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

/** The human durations of the command lines: --timeout 30s, --shutdown-grace 30s, … */
class DurationsTest {

  @ParameterizedTest
  @CsvSource({
    "500ms, PT0.5S",
    "30s, PT30S",
    "45, PT45S",
    "10m, PT10M",
    "2h, PT2H",
    "1d, PT24H",
    "0s, PT0S",
    "' 30s ', PT30S"
  })
  void parses(String text, String iso) {
    assertEquals(Duration.parse(iso), Durations.parse(text));
  }

  @ParameterizedTest
  @CsvSource({
    "PT0.5S, 500ms",
    "PT1.5S, 1500ms",
    "PT30S, 30s",
    "PT90S, 90s",
    "PT10M, 10m",
    "PT2H, 2h",
    "PT24H, 24h",
    "PT0S, 0s"
  })
  void formats(String iso, String text) {
    assertEquals(text, Durations.format(Duration.parse(iso)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"500ms", "30s", "10m", "2h", "90s", "1500ms", "0s"})
  void formatReadsBack(String text) {
    assertEquals(Durations.parse(text), Durations.parse(Durations.format(Durations.parse(text))));
  }

  @ParameterizedTest
  @NullAndEmptySource
  @ValueSource(
      strings = {
        "abc",
        "-5s",
        "1.5s",
        "10x",
        "s",
        "30 s",
        "PT30S",
        "5sec",
        "1h30m",
        "99999999999999999999s"
      })
  void rejectsGarbageWithAHelpfulMessage(String text) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Durations.parse(text));

    assertTrue(e.getMessage().contains("invalid duration"), e.getMessage());
    assertTrue(e.getMessage().contains("30s"), "shows an example: " + e.getMessage());
  }

  @Test
  void rejectsDurationsTooLongForJava() {
    assertThrows(IllegalArgumentException.class, () -> Durations.parse("9999999999999999d"));
  }

  @Test
  void isAPicocliConverter() throws Exception {
    assertEquals(Duration.ofSeconds(5), new Durations().convert("5s"));
  }
}
