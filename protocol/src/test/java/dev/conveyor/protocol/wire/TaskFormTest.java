package dev.conveyor.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The one-pass read of a task body gives what the read through its tree gives. */
class TaskFormTest {

  /** A decoded task, or the one-line reason it was refused. */
  private static Object outcome(byte[] body, boolean byTree) {
    try {
      return byTree
          ? Wire.decodeTaskByTree(body, "message-id")
          : Wire.decodeTask(body, "message-id");
    } catch (MalformedMessageException e) {
      return "refused: " + e.getMessage();
    }
  }

  private static void readsAsTheTreeReads(byte[] body) {
    String shown = new String(body, StandardCharsets.UTF_8);
    assertEquals(outcome(body, true), outcome(body, false), shown);
  }

  /** Tasks as producers write them: every field present, absent or null, in any order. */
  @Test
  void readsWhatProducersWriteInOnePass() {
    SplittableRandom random = new SplittableRandom(13);
    String[] ids = {"\"t-1\"", "\"\"", "\"  \"", "\"ïd \\\"q\\\" \\u00e9\""};
    String[] types = {"\"noop\"", "\"exec\"", "\"t\\u0079pe\"", "\"täsk\"", "\" x \""};
    String[] payloads = {
      "{\"seconds\":2}",
      "[1,{\"x\":null},\"s\",true]",
      "\"text\"",
      "-1.5",
      "12345678901234567890",
      "{\"a\":1,\"a\":2}",
      "{}",
      "[]",
      "0"
    };
    String[] wholes = {"1", "0", "-5", "2147483647", "2147483648", "9223372036854775807"};
    String[] attempts = {"1", "3", "0", "-1", "2147483647", "-2147483648"};
    String[] instants = {
      "\"2026-12-05T14:58:01Z\"",
      "\"2026-12-05T14:58:01.123Z\"",
      "\"2026-12-05T14:58:01.123456Z\"",
      "\"2026-12-05T14:58:02.000000001Z\"",
      "\"2027-01-01T00:00:00.5Z\""
    };
    String[] unknown = {"{\"nested\":[1,{\"deep\":[[]]}]}", "\"u\"", "null", "[1,2]", "7.25"};
    String[] blanks = {"", " ", "\n", "\t ", "\r\n  "};
    for (int i = 0; i < 3_000; i++) {
      List<String> fields = new ArrayList<>();
      fields.add("\"type\":" + pick(random, types));
      optional(random, fields, "id", ids);
      optional(random, fields, "payload", payloads);
      optional(random, fields, "timeoutMs", wholes);
      optional(random, fields, "graceMs", wholes);
      optional(random, fields, "maxAttempts", attempts);
      optional(random, fields, "expiresAt", instants);
      optional(random, fields, "createdAt", instants);
      if (random.nextInt(4) == 0) {
        fields.add("\"extra" + random.nextInt(3) + "\":" + pick(random, unknown));
      }
      Collections.shuffle(fields, new Random(random.nextLong()));
      String gap = pick(random, blanks);
      String json = gap + "{" + gap + String.join("," + gap, fields) + gap + "}" + gap;
      byte[] body = json.getBytes(StandardCharsets.UTF_8);
      readsAsTheTreeReads(body);
      assertNotNull(
          TaskForm.read(body, new InstantText.Reader(), new InstantText.Reader()),
          () -> "read in one pass: " + json);
    }
  }

  @Test
  void readsWhatTaskPublisherWritesInOnePass() {
    Instant now = Instant.parse("2026-12-05T14:58:01.123Z");
    List<TaskMessage> tasks =
        List.of(
            new TaskMessage("id-1", "noop", null, null, null, null, null, now),
            new TaskMessage(
                "id-2",
                "sleep",
                Wire.JSON.createObjectNode().put("seconds", 2),
                30_000L,
                5_000L,
                3,
                now.plusSeconds(60),
                now));
    for (TaskMessage task : tasks) {
      byte[] body = Wire.encode(task);
      assertEquals(task, outcome(body, false));
      assertNotNull(TaskForm.read(body, new InstantText.Reader(), new InstantText.Reader()));
    }
  }

  private static String pick(SplittableRandom random, String[] values) {
    return values[random.nextInt(values.length)];
  }

  /** The field with one of the values, or null, or not at all. */
  private static void optional(
      SplittableRandom random, List<String> fields, String name, String[] values) {
    switch (random.nextInt(3)) {
      case 0 -> fields.add("\"" + name + "\":" + pick(random, values));
      case 1 -> fields.add("\"" + name + "\":null");
      default -> {}
    }
  }

  /** Bodies the tree refuses, reads leniently or reads its own way: the same outcome either way. */
  static List<String> others() {
    String deep = "[".repeat(1_500) + "]".repeat(1_500);
    return List.of(
        "",
        " ",
        "null",
        "[]",
        "[{\"type\":\"t\"}]",
        "1",
        "\"t\"",
        "{",
        "{}",
        "{\"type\":\"t\"",
        "{\"type\":\"t\",}",
        "{\"type\":\"t\"} junk",
        "{\"type\":\"t\"}{}",
        "{\"type\":\"t\"} {\"type\":\"u\"}",
        "{\"type\":\"t\"}]",
        "{\"type\":\"\"}",
        "{\"type\":\"  \"}",
        "{\"type\":null}",
        "{\"type\":1}",
        "{\"type\":true}",
        "{\"type\":[\"t\"]}",
        "{\"type\":{\"name\":\"t\"}}",
        "{\"id\":\"a\"}",
        "{\"type\":\"t\",\"type\":\"u\"}",
        "{\"type\":\"t\",\"type\":\"\"}",
        "{\"type\":\"\",\"type\":\"u\"}",
        "{\"type\":\"t\",\"timeoutMs\":\"x\",\"timeoutMs\":5}",
        "{\"type\":\"t\",\"timeoutMs\":5,\"timeoutMs\":\"x\"}",
        "{\"type\":\"t\",\"payload\":1,\"payload\":{\"a\":1}}",
        "{\"type\":\"t\",\"createdAt\":\"bad\",\"createdAt\":\"2026-12-05T14:58:01Z\"}",
        "{\"type\":\"t\",\"timeoutMs\":1.5}",
        "{\"type\":\"t\",\"timeoutMs\":1.0}",
        "{\"type\":\"t\",\"timeoutMs\":1e3}",
        "{\"type\":\"t\",\"timeoutMs\":\"3\"}",
        "{\"type\":\"t\",\"timeoutMs\":true}",
        "{\"type\":\"t\",\"timeoutMs\":[]}",
        "{\"type\":\"t\",\"timeoutMs\":{}}",
        "{\"type\":\"t\",\"timeoutMs\":9223372036854775808}",
        "{\"type\":\"t\",\"timeoutMs\":-9223372036854775808}",
        "{\"type\":\"t\",\"timeoutMs\":-9223372036854775809}",
        "{\"type\":\"t\",\"timeoutMs\":99999999999999999999999}",
        "{\"type\":\"t\",\"timeoutMs\":01}",
        "{\"type\":\"t\",\"timeoutMs\":-0}",
        "{\"type\":\"t\",\"graceMs\":-1}",
        "{\"type\":\"t\",\"graceMs\":2.5}",
        "{\"type\":\"t\",\"maxAttempts\":2147483648}",
        "{\"type\":\"t\",\"maxAttempts\":-2147483649}",
        "{\"type\":\"t\",\"maxAttempts\":1.0}",
        "{\"type\":\"t\",\"maxAttempts\":\"1\"}",
        "{\"type\":\"t\",\"id\":5}",
        "{\"type\":\"t\",\"id\":true}",
        "{\"type\":\"t\",\"id\":{}}",
        "{\"type\":\"t\",\"id\":[\"a\"]}",
        "{\"type\":\"t\",\"expiresAt\":1700000000}",
        "{\"type\":\"t\",\"expiresAt\":\"1700000000\"}",
        "{\"type\":\"t\",\"expiresAt\":\"2026-11-21T12:00:00+01:00\"}",
        "{\"type\":\"t\",\"expiresAt\":\"2026-11-21\"}",
        "{\"type\":\"t\",\"expiresAt\":\"2026-11-21T12:00:00.1234567890Z\"}",
        "{\"type\":\"t\",\"expiresAt\":\"not a date\"}",
        "{\"type\":\"t\",\"expiresAt\":\"\"}",
        "{\"type\":\"t\",\"createdAt\":true}",
        "{\"type\":\"t\",\"createdAt\":[\"2026-11-21T12:00:00Z\"]}",
        "{\"type\":\"t\",\"payload\":" + deep + "}",
        "{\"type\":\"t\",\"unknown\":" + deep + "}",
        "{\"type\":\"t\",\"unknown\":{\"a\":1,\"a\":2}}",
        "{\"type\":\"t\",\"payload\":1e400}",
        "{\"type\":\"t\",\"payload\":NaN}",
        "{\"type\":\"t\" /* a comment */}",
        "{'type':'t'}",
        "{type:\"t\"}",
        "{\"type\":\"t\\x\"}",
        "{\"type\":\"t\",\"\":1}",
        "\uFEFF{\"type\":\"t\"}");
  }

  @ParameterizedTest
  @MethodSource("others")
  void readsOtherBodiesAsTheTreeReadsThem(String json) {
    readsAsTheTreeReads(json.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void readsBytesThatAreNotUtf8AsTheTreeReadsThem() {
    byte[] prefix = "{\"type\":\"t".getBytes(StandardCharsets.US_ASCII);
    for (byte[] bad : List.of(new byte[] {(byte) 0xC3}, new byte[] {(byte) 0xFF}, new byte[] {0})) {
      byte[] body = new byte[prefix.length + bad.length + 2];
      System.arraycopy(prefix, 0, body, 0, prefix.length);
      System.arraycopy(bad, 0, body, prefix.length, bad.length);
      body[body.length - 2] = '"';
      body[body.length - 1] = '}';
      readsAsTheTreeReads(body);
    }
  }
}
