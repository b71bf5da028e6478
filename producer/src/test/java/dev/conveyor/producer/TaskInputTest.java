package dev.conveyor.producer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.wire.TaskMessage;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TaskInputTest {

  private static final Clock CLOCK =
      Clock.fixed(Instant.parse("2026-11-21T12:00:00Z"), ZoneOffset.UTC);

  @TempDir Path dir;

  private static List<TaskMessage> parse(String text) throws Exception {
    return parse(text, TaskInput.Defaults.NONE);
  }

  private static List<TaskMessage> parse(String text, TaskInput.Defaults defaults)
      throws Exception {
    return TaskInput.parseTasks(
        new BufferedReader(new StringReader(text)), "tasks.jsonl", defaults, CLOCK);
  }

  @Test
  void readsOneTaskPerLineInOrderSkippingBlankLines() throws Exception {
    List<TaskMessage> tasks =
        parse(
            """
            {"id":"a","type":"sleep","payload":{"seconds":1},"timeoutMs":30000,"graceMs":5000,\
            "maxAttempts":3,"expiresAt":"2026-11-21T13:00:00Z","createdAt":"2026-11-21T11:00:00Z"}

               \t
            {"type":"noop"}
            """);
    assertEquals(2, tasks.size());
    TaskMessage a = tasks.get(0);
    assertEquals("a", a.id());
    assertEquals("sleep", a.type());
    assertEquals(1, a.payload().get("seconds").asInt());
    assertEquals(30_000L, a.timeoutMs());
    assertEquals(5_000L, a.graceMs());
    assertEquals(3, a.maxAttempts());
    assertEquals(Instant.parse("2026-11-21T13:00:00Z"), a.expiresAt());
    assertEquals(Instant.parse("2026-11-21T11:00:00Z"), a.createdAt());

    TaskMessage b = tasks.get(1);
    assertNotNull(UUID.fromString(b.id()));
    assertEquals(CLOCK.instant(), b.createdAt());
    assertNull(b.timeoutMs());
  }

  @Test
  void unknownFieldsAreIgnoredAsOnTheWire() throws Exception {
    assertEquals("x", parse("{\"type\":\"x\",\"extra\":true}").getFirst().type());
  }

  @Test
  void defaultsFillOnlyMissingFields() throws Exception {
    Instant expiry = Instant.parse("2030-01-01T00:00:00Z");
    TaskInput.Defaults defaults = new TaskInput.Defaults(1000L, 200L, 2, expiry);
    List<TaskMessage> tasks =
        parse(
            "{\"type\":\"a\"}\n"
                + "{\"type\":\"b\",\"timeoutMs\":5,\"graceMs\":0,\"maxAttempts\":1,"
                + "\"expiresAt\":\"2029-01-01T00:00:00Z\"}\n",
            defaults);
    assertEquals(List.of(1000L, 5L), tasks.stream().map(TaskMessage::timeoutMs).toList());
    assertEquals(List.of(200L, 0L), tasks.stream().map(TaskMessage::graceMs).toList());
    assertEquals(List.of(2, 1), tasks.stream().map(TaskMessage::maxAttempts).toList());
    assertEquals(expiry, tasks.get(0).expiresAt());
    assertEquals(Instant.parse("2029-01-01T00:00:00Z"), tasks.get(1).expiresAt());
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"type\":\"x\"}\\n{\"type\":\"x\"\\n{\"type\":\"y\"} | tasks.jsonl line 2: not JSON",
        "{\"type\":\"x\"}\\n{\"payload\":{}} | tasks.jsonl line 2: task has no 'type'",
        "{\"type\":\"\"} | tasks.jsonl line 1: task has no 'type'",
        "{\"type\":42} | tasks.jsonl line 1: type must be a string",
        "{\"type\":5} | tasks.jsonl line 1: type must be a string",
        "{\"type\":\"x\",\"id\":\"\"} | tasks.jsonl line 1: id must not be empty (leave it out to have one generated)",
        "{\"type\":\"x\",\"id\":\" \"} | tasks.jsonl line 1: id must not be empty",
        "{\"type\":\"x\",\"timeoutMs\":1.5} | tasks.jsonl line 1: timeoutMs must be a whole number (got 1.5)",
        "{\"type\":\"x\",\"maxAttempts\":\"3\"} | tasks.jsonl line 1: maxAttempts must be a number, not a string",
        "[{\"type\":\"x\"}] | tasks.jsonl line 1: task body must be a JSON object",
        "{\"type\":\"x\"} {\"type\":\"y\"} | tasks.jsonl line 1: not JSON",
        "{\"type\":\"x\",\"timeoutMs\":0} | tasks.jsonl line 1: timeoutMs must be positive",
        "{\"type\":\"x\",\"timeoutMs\":\"soon\"} | tasks.jsonl line 1: timeoutMs must be a number",
        "{\"type\":\"x\",\"graceMs\":-1} | tasks.jsonl line 1: graceMs must not be negative",
        "{\"type\":\"x\",\"maxAttempts\":0} | tasks.jsonl line 1: maxAttempts must be at least 1",
        "{\"type\":\"x\",\"expiresAt\":\"tomorrow\"} | tasks.jsonl line 1: invalid task",
        "{\"id\":\"a\",\"type\":\"x\"}\\n\\n{\"id\":\"a\",\"type\":\"y\"} | tasks.jsonl line 3: duplicate id a (also on line 1)",
      })
  void aBadLineIsNamedAndNothingIsReturned(String text, String expected) {
    UsageException e =
        assertThrows(UsageException.class, () -> parse(text.replace("\\n", "\n").strip()));
    assertTrue(e.getMessage().startsWith(expected), e.getMessage());
    assertTrue(e.getMessage().endsWith("nothing was published"), e.getMessage());
    assertEquals(-1, e.getMessage().indexOf('\n'), e.getMessage());
  }

  @Test
  void reportsEveryBadLineByItsNumber() {
    UsageException e =
        assertThrows(
            UsageException.class,
            () -> parse("{\"type\":\"x\"}\nnope\n{}\n\n{\"type\":\"y\"}\n[]\n{\"type\":5}\n"));
    assertEquals(
        """
        tasks.jsonl has 4 bad lines (2, 3, 6, 7); nothing was published
          line 2: not JSON: Unrecognized token 'nope': was expecting (JSON String, Number, \
        Array, Object or token 'null', 'true' or 'false') (column 5)
          line 3: task has no 'type'
          line 6: task body must be a JSON object
          line 7: type must be a string""",
        e.getMessage());
  }

  @Test
  void manyBadLinesAreAllNumberedThoughOnlyTheFirstAreDescribed() {
    StringBuilder text = new StringBuilder("{\"type\":\"ok\"}\n");
    for (int i = 2; i <= 40; i++) {
      text.append(i == 30 ? "{\"type\":\"ok\"}" : "{}").append('\n');
    }
    UsageException e = assertThrows(UsageException.class, () -> parse(text.toString()));
    List<String> lines = e.getMessage().lines().toList();
    assertEquals(
        "tasks.jsonl has 38 bad lines (2-29, 31-40); nothing was published", lines.getFirst());
    assertEquals(1 + TaskInput.DESCRIBED + 1, lines.size(), e.getMessage());
    assertEquals("  line 2: task has no 'type'", lines.get(1));
    assertEquals("  … and 18 more: lines 22-29, 31-40", lines.getLast());
  }

  @Test
  void aCheckOnEachTaskNamesItsLine() {
    UsageException e =
        assertThrows(
            UsageException.class,
            () ->
                TaskInput.parseTasks(
                    new BufferedReader(
                        new StringReader("{\"type\":\"x\"}\n\n{\"type\":\"slow\"}\n")),
                    "tasks.jsonl",
                    TaskInput.Defaults.NONE,
                    CLOCK,
                    t -> t.type().equals("slow") ? Optional.of("too slow") : Optional.empty()));
    assertEquals("tasks.jsonl line 3: too slow; nothing was published", e.getMessage());
  }

  @Test
  void anEmptyFileIsAUsageError() {
    UsageException e = assertThrows(UsageException.class, () -> parse("\n  \n"));
    assertEquals("tasks.jsonl has no tasks", e.getMessage());
  }

  /** The types of the tasks {@code file} holds ({@code -}: {@code stdin}), in order. */
  private static List<String> types(String file, java.io.InputStream stdin) {
    return TaskInput.readTasks(file, stdin, TaskInput.Defaults.NONE, CLOCK).stream()
        .map(TaskMessage::type)
        .toList();
  }

  @Test
  void readsFilesAndStdin() throws Exception {
    Path file = Files.writeString(dir.resolve("t.jsonl"), "{\"type\":\"a\"}\n{\"type\":\"b\"}");
    assertEquals(List.of("a", "b"), types(file.toString(), new ByteArrayInputStream(new byte[0])));
    assertEquals(
        List.of("c"),
        types(
            "-", new ByteArrayInputStream("{\"type\":\"c\"}\n".getBytes(StandardCharsets.UTF_8))));
  }

  /**
   * Editors on Windows (Notepad, PowerShell's {@code Out-File -Encoding utf8}) begin a UTF-8 file
   * with a byte-order mark, which JSON parsers refuse as a character: "line 1: not JSON".
   */
  @Test
  void aByteOrderMarkBeforeTheFirstLineOrPayloadIsSkipped() throws Exception {
    byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
    Path tasks = dir.resolve("bom.jsonl");
    Files.write(tasks, bom);
    Files.writeString(tasks, "{\"type\":\"a\"}\r\n{\"type\":\"b\"}\r\n", StandardOpenOption.APPEND);
    assertEquals(List.of("a", "b"), types(tasks.toString(), new ByteArrayInputStream(new byte[0])));

    Path payload = dir.resolve("bom.json");
    Files.write(payload, bom);
    Files.writeString(payload, "{\"s\":5}", StandardOpenOption.APPEND);
    assertEquals(
        5,
        TaskInput.readPayloadFile(payload.toString(), new ByteArrayInputStream(new byte[0]))
            .get("s")
            .asInt());
    byte[] piped = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, '7'};
    assertEquals(7, TaskInput.readPayloadFile("-", new ByteArrayInputStream(piped)).asInt());
    // Only before the first character: anywhere else it is the text's own.
    assertThrows(
        UsageException.class,
        () ->
            TaskInput.readPayloadFile(
                "-", new ByteArrayInputStream("7\uFEFF".getBytes(StandardCharsets.UTF_8))));
  }

  @Test
  void fileProblemsAreUsageErrors() throws Exception {
    Path latin1 = Files.write(dir.resolve("bad.jsonl"), new byte[] {'{', (byte) 0xE9, '}'});
    UsageException notUtf8 =
        assertThrows(
            UsageException.class,
            () ->
                TaskInput.readTasks(
                    latin1.toString(),
                    new ByteArrayInputStream(new byte[0]),
                    TaskInput.Defaults.NONE,
                    CLOCK));
    assertEquals(latin1 + " is not valid UTF-8", notUtf8.getMessage());

    UsageException missing =
        assertThrows(
            UsageException.class,
            () ->
                TaskInput.readTasks(
                    dir.resolve("none.jsonl").toString(),
                    new ByteArrayInputStream(new byte[0]),
                    TaskInput.Defaults.NONE,
                    CLOCK));
    assertEquals("no such file: " + dir.resolve("none.jsonl"), missing.getMessage());
  }

  @Test
  void payloadMustBeOneJsonValue() {
    assertEquals(5, TaskInput.parseJson("{\"seconds\":5}", "--payload").get("seconds").asInt());
    assertTrue(TaskInput.parseJson("[1, 2]", "--payload").isArray());
    assertThrows(UsageException.class, () -> TaskInput.parseJson("seconds=5", "--payload"));
    assertThrows(UsageException.class, () -> TaskInput.parseJson("{} {}", "--payload"));
    assertThrows(UsageException.class, () -> TaskInput.parseJson("", "--payload"));
  }

  @Test
  void linesAreSplitAsReadLineSplitsThem() throws Exception {
    TaskInput.Lines lines = new TaskInput.Lines(new StringReader("a\nbb\r\n\n\r\nc"), 10);
    List<String> read = new java.util.ArrayList<>();
    for (String line = lines.next(); line != null; line = lines.next()) {
      read.add(line);
    }
    assertEquals(List.of("a", "bb", "", "", "c"), read);
    assertNull(new TaskInput.Lines(new StringReader(""), 10).next());
    assertEquals("x", new TaskInput.Lines(new StringReader("x\n"), 10).next());
  }

  /**
   * Read whole, a file without line breaks ({@code /dev/zero}, a binary) ran the producer out of
   * memory, with a stack trace and exit 1.
   */
  @Test
  void aLineOrAPayloadOverTheLimitIsAUsageError() throws Exception {
    String ok = "{\"type\":\"a\"}"; // 14 characters
    assertEquals(
        2,
        TaskInput.parseTasks(
                new BufferedReader(new StringReader(ok + "\r\n" + ok + "\n")),
                "tasks.jsonl",
                TaskInput.Defaults.NONE,
                CLOCK,
                t -> Optional.empty(),
                14)
            .size());
    UsageException line =
        assertThrows(
            UsageException.class,
            () ->
                TaskInput.parseTasks(
                    new BufferedReader(new StringReader(ok + "\n" + "x".repeat(100_000))),
                    "tasks.jsonl",
                    TaskInput.Defaults.NONE,
                    CLOCK,
                    t -> Optional.empty(),
                    14));
    assertEquals(
        "tasks.jsonl line 2 is over 14 characters (a task is one line); nothing was published",
        line.getMessage());

    assertEquals(
        5,
        TaskInput.readPayloadFile(
                "-", new ByteArrayInputStream("{\"s\":5}".getBytes(StandardCharsets.UTF_8)), 7)
            .get("s")
            .asInt());
    UsageException payload =
        assertThrows(
            UsageException.class,
            () ->
                TaskInput.readPayloadFile(
                    "-", new ByteArrayInputStream(new byte[100_000]), 1024 * 1024 / 16));
    assertEquals("the payload on stdin is over 65536 characters", payload.getMessage());
    assertEquals(128 * 1024 * 1024, TaskInput.MAX_CHARS);
  }

  @Test
  void anIdOrTypeLongerThanAnAmqpShortStringNamesItsLine() {
    String longId = "é".repeat(128); // 256 bytes in UTF-8
    UsageException e =
        assertThrows(
            UsageException.class,
            () -> parse("{\"type\":\"a\"}\n{\"type\":\"a\",\"id\":\"" + longId + "\"}\n"));
    assertEquals(
        "tasks.jsonl line 2: id is 256 bytes long in UTF-8, at most 255: it is also the message's"
            + " AMQP message-id; nothing was published",
        e.getMessage());
  }
}
