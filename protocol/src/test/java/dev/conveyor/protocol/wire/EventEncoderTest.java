package dev.conveyor.protocol.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EventEncoderTest {

  private static final Instant AT = Instant.parse("2026-11-21T12:00:00.250Z");

  /** Events with every field set or left out, results of each kind, text that must be escaped. */
  private static List<TaskEvent> corpus() throws Exception {
    List<TaskEvent> events = new ArrayList<>();
    for (TaskState state : TaskState.values()) {
      events.add(
          new TaskEvent(
              "t-" + state, "noop", state, "w", 1, AT, null, null, null, null, "default", null));
    }
    events.add(
        new TaskEvent(
            "t-1",
            "sleep",
            TaskState.TIMED_OUT,
            "host-w1",
            2,
            AT.plusNanos(123_456_789),
            30_012L,
            Cause.DEADLINE,
            "deadline of 30s passed",
            "alice@laptop",
            "default",
            Wire.JSON.readTree("{\"ok\":true,\"n\":[1,2.5,null,\"x\"],\"empty\":{}}")));
    events.add(
        new TaskEvent(
            "\"quoted\" \\ back\nslash \u0001 ünïcödé \uD83D\uDE80",
            "type with spaces",
            TaskState.FAILED,
            "w\t2",
            null,
            Instant.EPOCH,
            0L,
            Cause.REVOKED,
            "line 1\nline 2",
            null,
            null,
            Wire.JSON.getNodeFactory().textNode("ok")));
    events.add(
        new TaskEvent(null, null, null, null, null, null, null, null, null, null, null, null));
    return events;
  }

  @Test
  void encodesEveryEventByteForByteAsTheMapperDoes() throws Exception {
    EventEncoder encoder = new EventEncoder();
    for (int round = 0; round < 2; round++) { // the second time round, with the generator reused
      for (TaskEvent e : corpus()) {
        assertThat(new String(encoder.encode(e), java.nio.charset.StandardCharsets.UTF_8))
            .isEqualTo(new String(Wire.encode(e), java.nio.charset.StandardCharsets.UTF_8));
      }
    }
  }

  /** A result whose encoding fails half-way: a tree node holding an object Jackson cannot write. */
  public static final class Unwritable {
    public String getValue() {
      throw new IllegalStateException("cannot be written");
    }
  }

  @Test
  void anEventThatFailsHalfWayLeavesNothingBehindForTheNext() throws Exception {
    EventEncoder encoder = new EventEncoder();
    TaskEvent bad =
        new TaskEvent(
            "bad",
            "noop",
            TaskState.SUCCEEDED,
            "w",
            1,
            AT,
            1L,
            null,
            null,
            null,
            "default",
            Wire.JSON.getNodeFactory().pojoNode(new Unwritable()));
    TaskEvent good = corpus().getFirst();
    encoder.encode(good);

    assertThatThrownBy(() -> encoder.encode(bad)).isInstanceOf(RuntimeException.class);

    assertThat(encoder.encode(good)).isEqualTo(Wire.encode(good));
    assertThat(Wire.decode(encoder.encode(good), TaskEvent.class)).isEqualTo(good);
  }
}
