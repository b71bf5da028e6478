package dev.conveyor.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.node.NullNode;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The task message (docs/protocol.md): what third-party producers may send and workers accept. */
class TaskMessageCodecTest {

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static TaskMessage decode(String json, String messageId)
      throws MalformedMessageException {
    return Wire.decodeTask(utf8(json), messageId);
  }

  /** The worker reads a task field by field; Jackson's record binding is what it must match. */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"type\":\"noop\"}",
        "{\"id\":\"a\",\"type\":\"sleep\",\"payload\":{\"ms\":[1,{\"x\":null}]}}",
        "{\"id\":null,\"type\":\"t\",\"payload\":null,\"timeoutMs\":null,\"graceMs\":null,"
            + "\"maxAttempts\":null,\"expiresAt\":null,\"createdAt\":null}",
        "{\"type\":\"t\",\"payload\":\"text\",\"timeoutMs\":9223372036854775807,"
            + "\"graceMs\":0,\"maxAttempts\":2147483647}",
        "{\"type\":\"t\",\"payload\":-1.5,\"timeoutMs\":5,\"maxAttempts\":1}",
        "{\"type\":\"t\",\"expiresAt\":\"2026-11-21T12:00:00Z\","
            + "\"createdAt\":\"2026-11-21T12:00:00.123456789Z\"}",
        "{\"type\":\"t\",\"expiresAt\":\"2026-11-21T12:00:00+01:00\"}",
        "{\"type\":\"t\",\"createdAt\":\"1700000000\"}",
        "{\"type\":\"t\",\"unknown\":{\"a\":1},\"payload\":[],\"id\":\"\"}",
      })
  void aTaskReadsAsJacksonBindsIt(String json) throws Exception {
    JsonNode tree = Wire.readDocument(json);
    TaskMessage bound = Wire.JSON.treeToValue(tree, TaskMessage.class);

    TaskMessage read = Wire.decodeTask(tree, "fallback-id");

    TaskMessage expected =
        bound.id() == null || bound.id().isBlank() ? bound.withId("fallback-id") : bound;
    assertEquals(expected, read);
  }

  @Test
  void roundTripKeepsEveryField() throws Exception {
    TaskMessage task =
        new TaskMessage(
            "t-1",
            "sleep",
            Wire.JSON.readTree("{\"seconds\":2,\"nested\":{\"list\":[1,\"two\",null]}}"),
            30_000L,
            5_000L,
            3,
            Instant.parse("2026-11-21T12:00:00Z"),
            Instant.parse("2026-11-21T11:59:00.123Z"));

    TaskMessage back = Wire.decodeTask(Wire.encode(task), "other-id");

    assertEquals(task, back);
  }

  @Test
  void encodesInstantsAsIsoStringsAndLeavesOutNulls() throws Exception {
    TaskMessage task =
        new TaskMessage(
            "t-1", "noop", null, null, null, null, Instant.parse("2026-11-21T12:00:00Z"), null);

    JsonNode json = Wire.JSON.readTree(Wire.encode(task));

    assertEquals("2026-11-21T12:00:00Z", json.get("expiresAt").asText());
    assertTrue(json.get("expiresAt").isTextual());
    assertFalse(json.has("payload"));
    assertFalse(json.has("timeoutMs"));
    assertFalse(json.has("createdAt"));
  }

  @Test
  void specExampleParses() throws Exception {
    String spec =
        """
        {"id":"7d1c","type":"sleep","payload":{"seconds":1},"timeoutMs":30000,"graceMs":5000,
         "maxAttempts":3,"expiresAt":"2026-11-21T12:00:00Z","createdAt":"2026-11-21T11:00:00Z"}
        """;

    TaskMessage task = decode(spec, "ignored-because-body-has-id");

    assertEquals("7d1c", task.id());
    assertEquals("sleep", task.type());
    assertEquals(1, task.payload().get("seconds").asInt());
    assertEquals(30_000L, task.timeoutMs());
    assertEquals(5_000L, task.graceMs());
    assertEquals(3, task.maxAttempts());
    assertEquals(3, task.effectiveMaxAttempts());
    assertEquals(Instant.parse("2026-11-21T12:00:00Z"), task.expiresAt());
    assertEquals(Instant.parse("2026-11-21T11:00:00Z"), task.createdAt());
  }

  @Test
  void onlyTypeIsRequiredAndTheIdComesFromMessageId() throws Exception {
    TaskMessage task = decode("{\"type\":\"noop\"}", "amqp-message-id");

    assertEquals("amqp-message-id", task.id());
    assertEquals("noop", task.type());
    assertNull(task.payload());
    assertNull(task.timeoutMs());
    assertEquals(TaskMessage.DEFAULT_MAX_ATTEMPTS, task.effectiveMaxAttempts());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "  "})
  void withoutAnyIdOneIsGenerated(String messageId) throws Exception {
    TaskMessage a = decode("{\"type\":\"noop\"}", messageId);
    TaskMessage b = decode("{\"type\":\"noop\",\"id\":\"\"}", null);

    UUID.fromString(a.id());
    UUID.fromString(b.id());
    assertNotEquals(a.id(), b.id());
  }

  @Test
  void unknownFieldsAreIgnoredForForwardCompatibility() throws Exception {
    TaskMessage task = decode("{\"type\":\"noop\",\"priority\":9,\"x\":{\"y\":1}}", "m");

    assertEquals("noop", task.type());
  }

  @Test
  void effectiveMaxAttemptsIsAtLeastOne() {
    assertEquals(
        1, new TaskMessage("i", "t", null, null, null, 0, null, null).effectiveMaxAttempts());
    assertEquals(
        1, new TaskMessage("i", "t", null, null, null, -4, null, null).effectiveMaxAttempts());
    assertEquals(
        5, new TaskMessage("i", "t", null, null, null, 5, null, null).effectiveMaxAttempts());
  }

  @Test
  void withIdReplacesOnlyTheId() {
    TaskMessage task = new TaskMessage("a", "t", null, 1L, 2L, 3, null, null);

    assertEquals(new TaskMessage("b", "t", null, 1L, 2L, 3, null, null), task.withId("b"));
  }

  @Test
  void garbageBytesAreMalformed() {
    byte[] garbage = {(byte) 0xff, (byte) 0xfe, 0x00, 0x13, (byte) 0xc3, 0x28};

    MalformedMessageException e =
        assertThrows(MalformedMessageException.class, () -> Wire.decodeTask(garbage, "m"));

    assertTrue(e.getMessage().startsWith("not JSON"), e.getMessage());
  }

  @Test
  void emptyBodyIsMalformed() {
    MalformedMessageException e =
        assertThrows(MalformedMessageException.class, () -> Wire.decodeTask(new byte[0], "m"));

    assertEquals("empty body", e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\"type\":", "{type:\"noop\"}", "nul"})
  void invalidJsonIsMalformed(String body) {
    MalformedMessageException e =
        assertThrows(MalformedMessageException.class, () -> decode(body, "m"));

    assertTrue(e.getMessage().startsWith("not JSON"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"[{\"type\":\"noop\"}]", "\"noop\"", "42", "null", "true"})
  void aBodyThatIsNotAnObjectIsMalformed(String body) {
    MalformedMessageException e =
        assertThrows(MalformedMessageException.class, () -> decode(body, "m"));

    assertEquals("task body must be a JSON object", e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{}",
        "{\"id\":\"x\",\"payload\":{}}",
        "{\"type\":null}",
        "{\"type\":\"\"}",
        "{\"type\":\"  \"}"
      })
  void aMissingTypeIsMalformed(String body) {
    MalformedMessageException e =
        assertThrows(MalformedMessageException.class, () -> decode(body, "m"));

    assertEquals("task has no 'type'", e.getMessage());
  }

  /**
   * A field of the wrong JSON type is refused with what it should be, never converted: Jackson
   * would read 1.5 as 1, "3" as 3 and a number as epoch seconds, silently changing the task.
   */
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"type\":7} | type must be a string",
        "{\"type\":[\"noop\"]} | type must be a string",
        "{\"type\":\"noop\",\"id\":5} | id must be a string",
        "{\"type\":\"noop\",\"timeoutMs\":\"soon\"} | timeoutMs must be a number, not a string",
        "{\"type\":\"noop\",\"timeoutMs\":1.5} | timeoutMs must be a whole number (got 1.5)",
        "{\"type\":\"noop\",\"timeoutMs\":30000.0} | timeoutMs must be a whole number (got 30000.0)",
        "{\"type\":\"noop\",\"graceMs\":true} | graceMs must be a whole number (got true)",
        "{\"type\":\"noop\",\"maxAttempts\":\"3\"} | maxAttempts must be a number, not a string",
        "{\"type\":\"noop\",\"maxAttempts\":2.5} | maxAttempts must be a whole number (got 2.5)",
        "{\"type\":\"noop\",\"maxAttempts\":3000000000} | maxAttempts must be at most 2147483647",
        "{\"type\":\"noop\",\"timeoutMs\":99999999999999999999} | timeoutMs must be at most 9223372036854775807",
        "{\"type\":\"noop\",\"expiresAt\":1700000000} | expiresAt must be an ISO-8601 string such as 2026-11-21T12:00:00Z",
        "{\"type\":\"noop\",\"createdAt\":{}} | createdAt must be an ISO-8601 string such as 2026-11-21T12:00:00Z",
      })
  void aFieldOfTheWrongTypeIsMalformedNotConverted(String body, String expected) {
    MalformedMessageException e =
        assertThrows(MalformedMessageException.class, () -> decode(body, "m"));

    assertEquals(expected.strip(), e.getMessage());
  }

  @Test
  void nullFieldsAreAbsentFields() throws Exception {
    TaskMessage task =
        decode(
            "{\"type\":\"noop\",\"id\":null,\"timeoutMs\":null,\"maxAttempts\":null,"
                + "\"expiresAt\":null}",
            "m");
    assertEquals("m", task.id());
    assertNull(task.timeoutMs());
    assertNull(task.maxAttempts());
  }

  @Test
  void aBadTimestampIsMalformed() {
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class,
            () -> decode("{\"type\":\"noop\",\"expiresAt\":\"tomorrow\"}", "m"));

    assertTrue(e.getMessage().startsWith("invalid task: "), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "-1"})
  void aTimeoutMustBePositive(String timeout) {
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class,
            () -> decode("{\"type\":\"noop\",\"timeoutMs\":" + timeout + "}", "m"));

    assertEquals("timeoutMs must be positive", e.getMessage());
  }

  @Test
  void aGraceMustNotBeNegative() throws Exception {
    assertEquals(0L, decode("{\"type\":\"noop\",\"graceMs\":0}", "m").graceMs());

    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class,
            () -> decode("{\"type\":\"noop\",\"graceMs\":-1}", "m"));

    assertEquals("graceMs must not be negative", e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "-2"})
  void maxAttemptsBelowOneIsMalformedAsTheProducerSays(String attempts) {
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class,
            () -> decode("{\"type\":\"noop\",\"maxAttempts\":" + attempts + "}", "m"));

    assertEquals("maxAttempts must be at least 1", e.getMessage());
  }

  @Test
  void anythingAfterTheObjectIsMalformed() {
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class, () -> decode("{\"type\":\"noop\"} junk", "m"));

    assertTrue(e.getMessage().startsWith("not JSON"), e.getMessage());
  }

  /** Turns the hand-written serializer off, leaving Jackson's bean serializer to write a task. */
  @JsonSerialize(using = JsonSerializer.None.class)
  private abstract static class BeanSerialized {}

  @Test
  void theTaskSerializerWritesWhatTheBeanSerializerWrote() throws Exception {
    ObjectMapper bean = Wire.JSON.copy().addMixIn(TaskMessage.class, BeanSerialized.class);
    JsonNode payload = Wire.JSON.readTree("{\"s\":\"é\\\"\\n\",\"n\":[1,2.5,null,true],\"o\":{}}");
    Instant whole = Instant.parse("2026-11-21T12:00:00Z");
    Instant millis = Instant.parse("2026-11-21T11:59:00.120Z");
    Instant nanos = Instant.parse("2026-11-21T11:59:00.123456789Z");
    List<TaskMessage> tasks =
        List.of(
            new TaskMessage("t-1", "sleep", payload, 30_000L, 0L, 3, whole, millis),
            new TaskMessage(null, "noop", null, null, null, null, null, null),
            new TaskMessage(
                "i\"d\u2028", "ty pe", NullNode.getInstance(), 1L, null, 1, nanos, nanos),
            new TaskMessage("t-2", "noop", Wire.JSON.readTree("[]"), null, 5L, null, null, whole),
            // The same instant again, and then another: the remembered text must follow.
            new TaskMessage("t-3", "noop", null, null, null, null, millis, millis),
            new TaskMessage("t-4", "noop", null, null, null, null, null, nanos));
    for (TaskMessage task : tasks) {
      assertEquals(bean.writeValueAsString(task), Wire.toJson(task), task.toString());
      assertEquals(
          bean.writerWithDefaultPrettyPrinter().writeValueAsString(task),
          Wire.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(task));
    }
  }
}
