package dev.conveyor.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link EventForm} reads what the object mapper reads, and reads it the same: for every message,
 * in the form or not, {@link Wire#decodeBatch} gives what the mapper alone gives, the same events
 * or the same error.
 */
class EventFormTest {

  private static final Instant AT = Instant.parse("2026-01-02T03:04:05.123456Z");

  private static String json(Object value) {
    return new String(Wire.encode(value), StandardCharsets.UTF_8);
  }

  private static final String TASK =
      json(
          new TaskEvent(
              "t1",
              "sleep",
              TaskState.CANCELLED,
              "w1",
              2,
              AT,
              1234L,
              Cause.USER_STOP,
              "stopped",
              "alice@box",
              "default",
              null));
  private static final String TASK_WITH_RESULT =
      json(
          new TaskEvent(
              "t2",
              "noop",
              TaskState.SUCCEEDED,
              "w1",
              1,
              AT,
              0L,
              null,
              null,
              null,
              "default",
              JsonNodeFactory.instance.objectNode().put("n", 1).put("s", "x")));
  private static final String APPLIED =
      json(
          new CommandApplied(
              "c1",
              Command.KILL,
              "w1",
              List.of("t1", "t2"),
              List.of(),
              List.of("t3"),
              true,
              AT,
              "alice@box"));
  private static final String REFUSED =
      json(new CommandRefused("c1", Command.STOP, "w1", "unsigned", AT, "bob@box"));
  private static final String WORKER =
      json(new WorkerEvent("w1", "heartbeat", AT, List.of("t1"), "host", 42L, List.of()));

  /** Messages in the form: read by it, and as the mapper reads them. */
  static Stream<Arguments> inTheForm() {
    return Stream.of(
        Arguments.of(TaskEvent.class, TASK),
        Arguments.of(TaskEvent.class, "[" + TASK + "," + TASK_WITH_RESULT + "]"),
        Arguments.of(TaskEvent.class, TASK_WITH_RESULT),
        Arguments.of(TaskEvent.class, " [ ] "),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"state\":\"running\",\"x\":{\"y\":[1]}}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"result\":null,\"attempt\":null}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"at\":\"2026-01-02T03:04:05Z\"}"),
        Arguments.of(CommandApplied.class, APPLIED),
        Arguments.of(CommandApplied.class, "{\"command\":\"c\",\"worker\":\"w\"}"),
        Arguments.of(CommandApplied.class, "[" + APPLIED + "," + APPLIED + "]"),
        Arguments.of(CommandRefused.class, REFUSED),
        Arguments.of(WorkerEvent.class, WORKER),
        Arguments.of(WorkerEvent.class, "{\"worker\":\"w\",\"running\":null,\"tasks\":null}"));
  }

  /** Messages the form leaves to the mapper: its leniencies and its errors stay as they were. */
  static Stream<Arguments> notInTheForm() {
    return Stream.of(
        Arguments.of(TaskEvent.class, "null"),
        Arguments.of(TaskEvent.class, "[null]"),
        Arguments.of(TaskEvent.class, "[" + TASK),
        Arguments.of(TaskEvent.class, TASK + " junk"),
        Arguments.of(TaskEvent.class, "[" + TASK + "] junk"),
        Arguments.of(TaskEvent.class, "\"x\""),
        Arguments.of(TaskEvent.class, "{\"task\":7}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"attempt\":\"3\"}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"attempt\":1.0}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"attempt\":4294967296}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"durationMs\":99999999999999999999}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"state\":\"RUNNING\"}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"state\":\"\"}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"state\":\"nope\"}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"cause\":\"nope\"}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"at\":\"2026-01-02T04:04:05+01:00\"}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"at\":1767323045}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"t\",\"at\":\"yesterday\"}"),
        Arguments.of(TaskEvent.class, "{\"task\":\"a\",\"task\":\"b\"}"),
        Arguments.of(CommandApplied.class, "{\"command\":\"c\",\"paused\":null}"),
        Arguments.of(CommandApplied.class, "{\"command\":\"c\",\"paused\":\"true\"}"),
        Arguments.of(CommandApplied.class, "{\"command\":\"c\",\"stopped\":[null]}"),
        Arguments.of(CommandApplied.class, "{\"command\":\"c\",\"stopped\":\"t\"}"),
        Arguments.of(CommandApplied.class, "{\"command\":\"c\",\"verb\":\"halt\"}"),
        Arguments.of(WorkerEvent.class, "{\"worker\":\"w\",\"tasks\":[1]}"),
        Arguments.of(
            WorkerEvent.class,
            "{\"worker\":\"w\",\"running\":[{\"id\":\"t\",\"type\":\"sleep\",\"attempt\":1,"
                + "\"startedAt\":\"2026-01-01T00:00:00Z\",\"ageMs\":1,\"stage\":\"running\"}]}"));
  }

  @ParameterizedTest
  @MethodSource("inTheForm")
  void readsWhatTheMapperReads(Class<?> type, String body) throws Exception {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    List<?> read = EventForm.read(bytes, type);
    assertNotNull(read, body);
    assertEquals(Wire.decodeBatchByMapper(bytes, type), read, body);
  }

  @ParameterizedTest
  @MethodSource("notInTheForm")
  void leavesTheRestToTheMapper(Class<?> type, String body) {
    assertNull(EventForm.read(body.getBytes(StandardCharsets.UTF_8), type), body);
  }
}
