package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.api.TaskRejectedException;
import org.junit.jupiter.api.Test;

class PayloadSecondsTest {

  private static JsonNode json(String text) throws Exception {
    return Wire.JSON.readTree(text);
  }

  @Test
  void secondsAreReadAsNanoseconds() throws Exception {
    assertThat(PayloadSeconds.nanos(json("{\"seconds\":0.25}"), "sleep", -1))
        .isEqualTo(250_000_000L);
    assertThat(PayloadSeconds.nanos(json("{\"seconds\":0}"), "sleep", -1)).isZero();
    assertThat(PayloadSeconds.nanos(json("{\"seconds\":3}"), "sleep", -1))
        .isEqualTo(3_000_000_000L);
  }

  /** Converted plainly, 1e10 s overflowed a deadline in nanoseconds: the task ended at once. */
  @Test
  void aSpanLongerThanNanosecondsCountIsTheLongestThereIs() throws Exception {
    assertThat(PayloadSeconds.nanos(json("{\"seconds\":1e10}"), "sleep", -1))
        .isEqualTo(Long.MAX_VALUE);
    assertThat(PayloadSeconds.nanos(json("{\"seconds\":1e300}"), "spin", 1))
        .isEqualTo(Long.MAX_VALUE);
    assertThat(PayloadSeconds.nanos(json("{\"seconds\":9223372036}"), "sleep", -1))
        .isEqualTo(9_223_372_036_000_000_000L);
  }

  @Test
  void aMissingSpanIsTheDefaultOrRefused() throws Exception {
    assertThat(PayloadSeconds.nanos(json("{}"), "spin", 1)).isEqualTo(1_000_000_000L);
    assertThatThrownBy(() -> PayloadSeconds.nanos(json("{}"), "sleep", -1))
        .isInstanceOf(TaskRejectedException.class)
        .hasMessage("sleep needs a payload {\"seconds\": N} with N a number >= 0");
    assertThatThrownBy(() -> PayloadSeconds.nanos(json("null"), "sleep", -1))
        .isInstanceOf(TaskRejectedException.class);
  }

  /** Read leniently, "NaN" was a span of no time and "5" five seconds; -1 ended a spin at once. */
  @Test
  void anythingButANumberOfAtLeastZeroIsRefused() {
    for (String payload :
        new String[] {
          "{\"seconds\":\"NaN\"}",
          "{\"seconds\":\"5\"}",
          "{\"seconds\":-1}",
          "{\"seconds\":null}",
          "{\"seconds\":true}",
          "{\"seconds\":[1]}",
          "{\"seconds\":{}}"
        }) {
      assertThatThrownBy(() -> PayloadSeconds.nanos(json(payload), "spin", 1))
          .as(payload)
          .isInstanceOf(TaskRejectedException.class)
          .hasMessage("spin needs a payload {\"seconds\": N} with N a number >= 0");
    }
  }
}
