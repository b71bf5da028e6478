package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class EventLineTest {

  private static final Event CANCELLED =
      new Event.Task(
          new TaskEvent(
              "t1",
              "sleep",
              TaskState.CANCELLED,
              "w1",
              2,
              Instant.parse("2026-01-01T00:00:00Z"),
              null,
              Cause.USER_STOP,
              null,
              "alice@box",
              null,
              null));

  @Test
  void textLinesNameTheEventAndOmitWhatIsUnknown() {
    String line = EventLine.text(CANCELLED);
    assertTrue(
        line.matches(
            "\\d\\d:\\d\\d:\\d\\d\\.\\d{3} task\\.cancelled t1 type=sleep worker=w1 attempt=2"
                + " cause=user-stop issuedBy=alice@box"),
        line);
    String worker =
        EventLine.text(
            new Event.Worker(
                new WorkerEvent("w1", "heartbeat", Instant.now(), List.of("a", "b"), null, 42L)));
    assertTrue(worker.endsWith(" worker.heartbeat w1 pid=42 tasks=a,b"), worker);
  }

  @Test
  void jsonLinesAreTheBodyPlusTheRoutingKey() throws Exception {
    String line = EventLine.json(CANCELLED);
    assertEquals(1, line.lines().count());
    JsonNode node = Wire.JSON.readTree(line);
    assertEquals("task.cancelled", node.get("event").asText());
    assertEquals("t1", node.get("task").asText());
    assertEquals("user-stop", node.get("cause").asText());
    assertEquals("2026-01-01T00:00:00Z", node.get("at").asText());
  }
}
