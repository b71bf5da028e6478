package dev.conveyor.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Control messages of docs/protocol.md, with every kind of target. */
class ControlMessageCodecTest {

  private static ControlMessage decode(String json) throws MalformedMessageException {
    return Wire.decodeControl(json.getBytes(StandardCharsets.UTF_8));
  }

  static Stream<Target> targets() {
    return Stream.of(
        Target.all(),
        new Target.Tasks(List.of("t-1", "t-2")),
        new Target.Workers(List.of("host-w1")),
        new Target.Types(List.of("sleep", "exec")));
  }

  /**
   * {@code control} writes its message with the streaming API ({@link ControlMessage#toJson}): the
   * bytes must be those of the codec, for every target, command and missing field.
   */
  @ParameterizedTest
  @MethodSource("targets")
  void theStreamingWriterWritesWhatTheCodecWrites(Target target) throws Exception {
    Instant at = Instant.parse("2026-12-04T21:12:09.123456789Z");
    for (Command command : Command.values()) {
      for (ControlMessage m :
          List.of(
              new ControlMessage("c-1", command, target, true, at, "ops@host \"a\"\n"),
              new ControlMessage("c-2", command, target, false, Instant.ofEpochSecond(1), null),
              new ControlMessage(null, command, target, false, null, null))) {
        assertEquals(Wire.toJson(m), new String(m.toJson(), StandardCharsets.UTF_8));
        assertEquals(m, Wire.decodeControl(m.toJson()));
      }
    }
  }

  @ParameterizedTest
  @MethodSource("targets")
  void roundTripWithEachTarget(Target target) throws Exception {
    ControlMessage message =
        new ControlMessage(
            "c-1",
            Command.STOP,
            target,
            true,
            Instant.parse("2026-11-21T12:00:00.5Z"),
            "alice@laptop");

    assertEquals(message, Wire.decodeControl(Wire.encode(message)));
  }

  @ParameterizedTest
  @EnumSource(Command.class)
  void everyCommandRoundTripsByItsWireName(Command command) throws Exception {
    ControlMessage message =
        new ControlMessage("c", command, Target.all(), false, Instant.EPOCH, null);

    JsonNode json = Wire.JSON.readTree(Wire.encode(message));

    assertEquals(command.wire(), json.get("command").asText());
    assertEquals(command, Wire.decodeControl(Wire.encode(message)).command());
  }

  @Test
  void targetsHaveTheirOneKeyWireForm() throws Exception {
    assertEquals("{\"all\":true}", Wire.toJson(Target.all()));
    assertEquals("{\"tasks\":[\"a\",\"b\"]}", Wire.toJson(new Target.Tasks(List.of("a", "b"))));
    assertEquals("{\"workers\":[\"w\"]}", Wire.toJson(new Target.Workers(List.of("w"))));
    assertEquals("{\"types\":[\"sleep\"]}", Wire.toJson(new Target.Types(List.of("sleep"))));
  }

  @Test
  void specExamplesParse() throws Exception {
    ControlMessage all =
        decode(
            "{\"id\":\"c1\",\"command\":\"stop\",\"target\":{\"all\":true},"
                + "\"requeue\":false,\"issuedAt\":\"2026-11-21T12:00:00Z\"}");
    ControlMessage tasks =
        decode(
            "{\"id\":\"c2\",\"command\":\"kill\",\"target\":{\"tasks\":[\"t1\",\"t2\"]},"
                + "\"requeue\":true,\"issuedAt\":\"2026-11-21T12:00:00Z\"}");
    ControlMessage workers =
        decode("{\"id\":\"c3\",\"command\":\"pause\",\"target\":{\"workers\":[\"w1\"]}}");
    ControlMessage types =
        decode("{\"id\":\"c4\",\"command\":\"resume\",\"target\":{\"types\":[\"sleep\"]}}");

    assertInstanceOf(Target.All.class, all.target());
    assertEquals(Command.STOP, all.command());
    assertFalse(all.requeue());
    assertEquals(Instant.parse("2026-11-21T12:00:00Z"), all.issuedAt());
    assertEquals(new Target.Tasks(List.of("t1", "t2")), tasks.target());
    assertEquals(Command.KILL, tasks.command());
    assertTrue(tasks.requeue());
    assertEquals(new Target.Workers(List.of("w1")), workers.target());
    assertEquals(Command.PAUSE, workers.command());
    assertFalse(workers.requeue(), "requeue defaults to false");
    assertEquals(new Target.Types(List.of("sleep")), types.target());
    assertEquals(Command.RESUME, types.command());
  }

  @Test
  void statusNeedsNoTarget() throws Exception {
    ControlMessage status = decode("{\"id\":\"s\",\"command\":\"status\"}");

    assertEquals(Command.STATUS, status.command());
    assertNull(status.target());
  }

  @Test
  void targetListsAreCopiedAndImmutable() {
    List<String> ids = new java.util.ArrayList<>(List.of("a"));
    Target.Tasks tasks = new Target.Tasks(ids);
    ids.add("b");

    assertEquals(List.of("a"), tasks.ids());
    assertThrows(UnsupportedOperationException.class, () -> tasks.ids().add("c"));
  }

  @Test
  void aMissingCommandIsMalformed() {
    MalformedMessageException e =
        assertThrows(MalformedMessageException.class, () -> decode("{\"target\":{\"all\":true}}"));

    assertEquals("control message has no 'command'", e.getMessage());
  }

  @Test
  void anUnknownCommandIsMalformed() {
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class,
            () -> decode("{\"command\":\"explode\",\"target\":{\"all\":true}}"));

    assertTrue(e.getMessage().startsWith("invalid control message: "), e.getMessage());
    assertTrue(e.getMessage().contains("explode"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"stop", "kill", "pause", "resume"})
  void aMissingTargetIsMalformedExceptForStatus(String command) {
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class, () -> decode("{\"command\":\"" + command + "\"}"));

    assertEquals("control message has no 'target'", e.getMessage());
  }

  @Test
  void anUnknownTargetKeyIsMalformed() {
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class,
            () -> decode("{\"command\":\"stop\",\"target\":{\"queues\":[\"q\"]}}"));

    assertTrue(e.getMessage().contains("unknown target key 'queues'"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"tasks", "workers", "types"})
  void anEmptyListTargetIsMalformed(String key) {
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class,
            () -> decode("{\"command\":\"stop\",\"target\":{\"" + key + "\":[]}}"));

    assertTrue(
        e.getMessage().contains(key + " must be a non-empty array of strings"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"all\":true,\"tasks\":[\"t\"]}",
        "{}",
        "[\"t\"]",
        "\"all\"",
        "{\"all\":false}",
        "{\"tasks\":\"t1\"}",
        "{\"tasks\":[1,2]}",
        "{\"workers\":[null]}"
      })
  void otherBadTargetsAreMalformed(String target) {
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class,
            () -> decode("{\"command\":\"stop\",\"target\":" + target + "}"));

    assertTrue(e.getMessage().startsWith("invalid control message: "), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
  }

  @Test
  void garbageAndNonObjectsAreMalformed() {
    assertThrows(
        MalformedMessageException.class,
        () -> Wire.decodeControl(new byte[] {(byte) 0xc0, (byte) 0xff, 0x01}));
    assertThrows(MalformedMessageException.class, () -> decode("not json"));
    assertThrows(MalformedMessageException.class, () -> decode("[]"));
    assertThrows(MalformedMessageException.class, () -> decode("null"));
    assertThrows(MalformedMessageException.class, () -> Wire.decodeControl(new byte[0]));
  }
}
