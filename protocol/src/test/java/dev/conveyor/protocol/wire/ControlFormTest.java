package dev.conveyor.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The field-by-field read of a control message gives what the record binding gives. */
class ControlFormTest {

  /** Every command and target, as {@code control} writes them: read field by field. */
  static List<ControlMessage> written() {
    List<ControlMessage> out = new ArrayList<>();
    List<Target> targets =
        List.of(
            Target.all(),
            new Target.Tasks(List.of("t1", "t2")),
            new Target.Workers(List.of("w")),
            new Target.Types(List.of("sleep", "exec")));
    Instant at = Instant.parse("2026-12-05T15:00:00.123Z");
    for (Command c : Command.values()) {
      for (Target t : targets) {
        out.add(new ControlMessage("c-1", c, t, false, at, "ops@host"));
        out.add(new ControlMessage(null, c, t, true, null, null));
      }
    }
    out.add(new ControlMessage("s", Command.STATUS, null, false, at, null));
    return out;
  }

  @ParameterizedTest
  @MethodSource("written")
  void readsWhatControlWritesFieldByField(ControlMessage message) throws Exception {
    JsonNode node = Wire.readDocument(new String(message.toJson(), "UTF-8"));
    ControlMessage read = Wire.controlOf(node);
    assertNotNull(read, "read field by field");
    assertEquals(message, read);
    assertEquals(Wire.JSON.treeToValue(node, ControlMessage.class), read);
  }

  /** Forms the binding reads its own way or refuses: left to it, or read the same. */
  static List<String> others() {
    return List.of(
        "{\"command\":\"stop\",\"target\":{\"all\":true},\"extra\":{\"x\":1}}",
        "{\"command\":\"stop\",\"target\":{\"all\":1}}",
        "{\"command\":\"stop\",\"target\":{\"all\":\"true\"}}",
        "{\"command\":\"stop\",\"target\":{\"all\":false}}",
        "{\"command\":\"stop\",\"target\":{\"tasks\":[]}}",
        "{\"command\":\"stop\",\"target\":{\"tasks\":[1]}}",
        "{\"command\":\"stop\",\"target\":{\"tasks\":\"t\"}}",
        "{\"command\":\"stop\",\"target\":{\"tasks\":[\"t\"],\"types\":[\"x\"]}}",
        "{\"command\":\"stop\",\"target\":{\"nodes\":[\"t\"]}}",
        "{\"command\":\"stop\",\"target\":{}}",
        "{\"command\":\"stop\",\"target\":[\"t\"]}",
        "{\"command\":\"stop\",\"target\":null}",
        "{\"command\":\"stop\"}",
        "{\"command\":\"STOP\",\"target\":{\"all\":true}}",
        "{\"command\":\"halt\",\"target\":{\"all\":true}}",
        "{\"command\":1,\"target\":{\"all\":true}}",
        "{\"command\":null,\"target\":{\"all\":true}}",
        "{\"target\":{\"all\":true}}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"requeue\":\"true\"}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"requeue\":1}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"requeue\":null}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"requeue\":false}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"id\":7}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"id\":null}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"issuedBy\":[\"a\"]}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"issuedAt\":1764946800}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"issuedAt\":\"2026-12-05T15:00:00Z\"}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"issuedAt\":\"2026-12-05T16:00:00+01:00\"}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"issuedAt\":\"2026-12-05t15:00:00.5z\"}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"issuedAt\":\"2026-12-05\"}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"issuedAt\":\"yesterday\"}",
        "{\"command\":\"kill\",\"target\":{\"all\":true},\"issuedAt\":null}",
        "{\"command\":\"stop\",\"command\":\"kill\",\"target\":{\"all\":true}}",
        "[\"stop\"]",
        "\"stop\"");
  }

  @ParameterizedTest
  @MethodSource("others")
  void anyOtherFormIsLeftToTheBindingOrReadAsItReadsIt(String json) throws Exception {
    JsonNode node = Wire.readDocument(json);
    ControlMessage read = Wire.controlOf(node);
    ControlMessage bound;
    try {
      bound = Wire.JSON.treeToValue(node, ControlMessage.class);
    } catch (JsonProcessingException e) {
      assertNull(read, "the binding refuses it");
      return;
    }
    if (read != null) {
      assertEquals(bound, read);
    }
  }
}
