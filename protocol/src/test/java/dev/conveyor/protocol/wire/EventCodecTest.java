package dev.conveyor.protocol.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Task events, worker events, command acknowledgements and status replies (docs/protocol.md). */
class EventCodecTest {

  private static final Instant AT = Instant.parse("2026-11-21T12:00:00.250Z");

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void taskEventRoundTrip() throws Exception {
    TaskEvent event =
        new TaskEvent(
            "t-1",
            "sleep",
            TaskState.TIMED_OUT,
            "host-w1",
            2,
            AT,
            30_012L,
            Cause.DEADLINE,
            "deadline of 30s passed",
            "alice@laptop",
            "default",
            Wire.JSON.readTree("{\"ok\":true}"));

    assertEquals(event, Wire.decode(Wire.encode(event), TaskEvent.class));
    assertEquals("task.timed-out", event.routingKey());
  }

  @Test
  void taskEventUsesTheWireNamesOfStateAndCause() throws Exception {
    TaskEvent event =
        new TaskEvent(
            "t",
            "x",
            TaskState.TIMED_OUT,
            null,
            null,
            AT,
            null,
            Cause.USER_KILL,
            null,
            null,
            null,
            null);

    JsonNode json = Wire.JSON.readTree(Wire.encode(event));

    assertEquals("timed-out", json.get("state").asText());
    assertEquals("user-kill", json.get("cause").asText());
    assertEquals("2026-11-21T12:00:00.250Z", json.get("at").asText());
    assertFalse(json.has("worker"), "nulls are left out");
  }

  @Test
  void specEventExampleParses() throws Exception {
    String spec =
        """
        {"task":"t-9","type":"sleep","state":"cancelled","worker":"box-w2","attempt":1,
         "at":"2026-11-21T12:00:00Z","durationMs":12,"cause":"user-stop","reason":"stopped",
         "issuedBy":"bob@ops"}
        """;

    TaskEvent event = Wire.decode(utf8(spec), TaskEvent.class);

    assertEquals("t-9", event.task());
    assertEquals(TaskState.CANCELLED, event.state());
    assertEquals(Cause.USER_STOP, event.cause());
    assertEquals(1, event.attempt());
    assertEquals(12L, event.durationMs());
    assertEquals("bob@ops", event.issuedBy());
  }

  @ParameterizedTest
  @EnumSource(TaskState.class)
  void everyStateParsesFromItsWireName(TaskState state) throws Exception {
    String json = "{\"task\":\"t\",\"state\":\"" + state.wire() + "\"}";

    assertEquals(state, Wire.decode(utf8(json), TaskEvent.class).state());
    assertEquals(state, TaskState.fromWire(state.wire()));
  }

  @ParameterizedTest
  @EnumSource(Cause.class)
  void everyCauseParsesFromItsWireName(Cause cause) throws Exception {
    String json = "{\"task\":\"t\",\"state\":\"failed\",\"cause\":\"" + cause.wire() + "\"}";

    assertEquals(cause, Wire.decode(utf8(json), TaskEvent.class).cause());
  }

  @Test
  void causeWireNamesAreTheSpecWords() {
    assertEquals(
        List.of(
            "handler",
            "user-stop",
            "user-kill",
            "deadline",
            "worker-lost",
            "shutdown",
            "connection-lost",
            "expired",
            "revoked",
            "rejected"),
        java.util.Arrays.stream(Cause.values()).map(Cause::wire).toList());
  }

  @Test
  void requeuesForShutdownOrConnectionLossSpareAnAttempt() {
    assertTrue(Cause.SHUTDOWN.sparesAttempt());
    assertTrue(Cause.CONNECTION_LOST.sparesAttempt());
    assertFalse(Cause.HANDLER.sparesAttempt());
    assertFalse(Cause.DEADLINE.sparesAttempt());
  }

  @Test
  void unknownStateIsMalformed() {
    assertThrows(
        MalformedMessageException.class,
        () -> Wire.decode(utf8("{\"task\":\"t\",\"state\":\"exploded\"}"), TaskEvent.class));
    assertThrows(IllegalArgumentException.class, () -> TaskState.fromWire("exploded"));
  }

  @Test
  void finalStatesAreTheOnesNoEventFollows() {
    for (TaskState s :
        List.of(
            TaskState.SUCCEEDED,
            TaskState.CANCELLED,
            TaskState.EXPIRED,
            TaskState.REJECTED,
            TaskState.DEAD)) {
      assertTrue(s.isFinal(), s + " is final");
    }
    for (TaskState s :
        List.of(TaskState.RUNNING, TaskState.FAILED, TaskState.TIMED_OUT, TaskState.REQUEUED)) {
      assertFalse(s.isFinal(), s + " is followed by requeued or dead");
    }
  }

  @Test
  void commandAppliedRoundTrip() throws Exception {
    CommandApplied applied =
        new CommandApplied(
            "c-1",
            Command.KILL,
            "host-w1",
            List.of(),
            List.of("t-1", "t-2"),
            List.of("t-3"),
            false,
            AT,
            "alice@laptop");

    CommandApplied back = Wire.decode(Wire.encode(applied), CommandApplied.class);

    assertEquals(applied, back);
    assertFalse(back.matchedNothing());
    assertEquals("command.applied", CommandApplied.ROUTING_KEY);
  }

  @Test
  void commandAppliedWithoutListsMatchedNothing() throws Exception {
    CommandApplied none =
        new CommandApplied(
            "c", Command.STOP, "w", List.of(), List.of(), List.of(), false, AT, null);
    CommandApplied sparse =
        Wire.decode(
            utf8("{\"command\":\"c\",\"verb\":\"pause\",\"worker\":\"w\",\"paused\":true}"),
            CommandApplied.class);

    assertTrue(none.matchedNothing());
    assertTrue(sparse.matchedNothing());
    assertTrue(sparse.paused());
    assertEquals(Command.PAUSE, sparse.verb());
  }

  @Test
  void workerStatusRoundTrip() throws Exception {
    WorkerStatus status =
        new WorkerStatus(
            "host-w1",
            "host",
            4242L,
            List.of("default", "mail"),
            4,
            true,
            AT,
            List.of(
                new WorkerStatus.RunningTask(
                    "t-1", "sleep", 1, AT, 1500L, AT.plusSeconds(30), "running", 0.5),
                new WorkerStatus.RunningTask(
                    "t-2", "spin", 2, AT, 40_000L, null, "killing", null)));

    assertEquals(status, Wire.decode(Wire.encode(status), WorkerStatus.class));
  }

  @Test
  void aTaskInAChildJvmCarriesItsChildAndATaskInAThreadDoesNot() throws Exception {
    WorkerStatus.RunningTask inChild =
        new WorkerStatus.RunningTask(
            "t-1",
            "sleep",
            1,
            AT,
            1500L,
            null,
            "running",
            null,
            new WorkerStatus.ChildProcess(4711L, 3, 90_000_000L));
    WorkerStatus.RunningTask inThread =
        new WorkerStatus.RunningTask("t-2", "sleep", 1, AT, 1500L, null, "running", null);

    assertEquals(inChild, Wire.decode(Wire.encode(inChild), WorkerStatus.RunningTask.class));
    assertTrue(
        new String(Wire.encode(inChild), java.nio.charset.StandardCharsets.UTF_8)
            .contains("\"child\":{\"pid\":4711,\"tasksRun\":3,\"rssBytes\":90000000}"));
    // Absent, not null: a reader that predates the field sees what it always saw.
    assertFalse(
        new String(Wire.encode(inThread), java.nio.charset.StandardCharsets.UTF_8)
            .contains("child"));
  }

  @Test
  void workerEventRoundTripAndRoutingKey() throws Exception {
    WorkerEvent event =
        new WorkerEvent("host-w1", WorkerEvent.HEARTBEAT, AT, List.of("t-1"), "host", 99L);

    assertEquals(event, Wire.decode(Wire.encode(event), WorkerEvent.class));
    assertEquals("worker.heartbeat", event.routingKey());
  }

  @Test
  void eventsAreDecodedByRoutingKey() throws Exception {
    Event task =
        EventSubscription.decode(
            "task.succeeded", utf8("{\"task\":\"t\",\"state\":\"succeeded\"}"));
    Event worker =
        EventSubscription.decode(
            "worker.started", utf8("{\"worker\":\"w\",\"state\":\"started\",\"tasks\":[]}"));
    Event applied =
        EventSubscription.decode(
            "command.applied", utf8("{\"command\":\"c\",\"verb\":\"stop\",\"worker\":\"w\"}"));

    assertInstanceOf(Event.Task.class, task);
    assertEquals("task.succeeded", task.routingKey());
    assertInstanceOf(Event.Worker.class, worker);
    assertEquals("worker.started", worker.routingKey());
    assertInstanceOf(Event.Applied.class, applied);
    assertEquals("command.applied", applied.routingKey());
    assertNull(((Event.Worker) worker).event().pid());
  }

  @Test
  void aMessageHoldsOneEventOrAnArrayOfEventsSharingItsRoutingKey() throws Exception {
    byte[] one = utf8("{\"task\":\"a\",\"state\":\"succeeded\"}");
    byte[] many =
        utf8(
            " [{\"task\":\"a\",\"state\":\"succeeded\"},"
                + "{\"task\":\"b\",\"state\":\"succeeded\"},"
                + "{\"task\":\"c\",\"state\":\"succeeded\",\"result\":[1,{\"x\":[2]}]}]");

    List<Event> single = EventSubscription.decodeAll("task.succeeded", one);
    List<Event> batch = EventSubscription.decodeAll("task.succeeded", many);

    assertEquals(List.of("a"), single.stream().map(e -> ((Event.Task) e).event().task()).toList());
    assertEquals(
        List.of("a", "b", "c"), batch.stream().map(e -> ((Event.Task) e).event().task()).toList());
    assertEquals(1, Wire.countEvents(one));
    assertEquals(3, Wire.countEvents(many));
    assertFalse(Wire.isBatch(one));
    assertTrue(Wire.isBatch(many)); // after leading white space
    assertFalse(Wire.isBatch(utf8("  ")));
    assertEquals(single.getFirst(), EventSubscription.decode("task.succeeded", one));
    assertThrows(
        MalformedMessageException.class, () -> EventSubscription.decode("task.succeeded", many));
    List<Event> workers =
        EventSubscription.decodeAll(
            "worker.heartbeat",
            utf8("[{\"worker\":\"w\",\"state\":\"heartbeat\"},{\"worker\":\"v\"}]"));
    assertEquals(2, workers.size());
    assertInstanceOf(Event.Worker.class, workers.get(1));
  }

  /**
   * A JSON {@code null} decoded to no event at all, and {@code List.of(null)} threw a
   * NullPointerException out of the reader's consumer: amqp-client closed that channel, and the
   * subscription (a watch, a worker's word of other workers) heard nothing more.
   */
  @Test
  void aNullEventIsMalformed() {
    for (String key :
        List.of("task.running", "worker.heartbeat", "command.applied", "command.refused")) {
      for (String body : List.of("null", " null\n")) {
        assertThrows(
            MalformedMessageException.class,
            () -> EventSubscription.decodeAll(key, utf8(body)),
            key + " " + body);
      }
    }
    assertThrows(
        MalformedMessageException.class, () -> Wire.decode(utf8("null"), WorkerStatus.class));
  }

  /**
   * Readers key on what an event is about and print it: a task event without its task or state, a
   * worker event without its worker or a command answer without its command or worker is skipped,
   * where {@code control watch} threw on printing one and went deaf.
   */
  @Test
  void anEventThatDoesNotNameWhatItIsAboutIsMalformed() {
    List<List<String>> cases =
        List.of(
            List.of("task.running", "{\"state\":\"running\"}", "no task"),
            List.of("task.running", "{\"task\":\"t\"}", "no state"),
            List.of("task.succeeded", "[{\"task\":\"t\",\"state\":\"succeeded\"},{}]", "no task"),
            List.of("worker.heartbeat", "{\"state\":\"heartbeat\"}", "no worker"),
            List.of("command.applied", "{\"worker\":\"w\"}", "no command"),
            List.of("command.refused", "{\"command\":\"c\"}", "no worker"));
    for (List<String> c : cases) {
      MalformedMessageException e =
          assertThrows(
              MalformedMessageException.class,
              () -> EventSubscription.decodeAll(c.get(0), utf8(c.get(1))),
              c.toString());
      assertTrue(e.getMessage().endsWith(c.get(2)), e.getMessage());
    }
  }

  @Test
  void aBatchWithAnElementThatIsNotAnEventIsMalformed() {
    for (String body : List.of("[1]", "[{\"task\":\"a\"},null]", "[{\"task\":\"a\"}", "[]x")) {
      assertThrows(
          MalformedMessageException.class,
          () -> EventSubscription.decodeAll("task.running", utf8(body)),
          body);
    }
  }

  @Test
  void theCountOfABatchSkipsWhatItsStringsAndNestedValuesHold() {
    assertEquals(
        2,
        Wire.countEvents(
            utf8(
                "\n[ {\"task\":\"a,]}\",\"reason\":\"quote \\\" , [ { \\\\\"},"
                    + " {\"task\":\"b\",\"result\":{\"k\":[1,2,{\"x\":\",\"}]}} ]")));
    assertEquals(1, Wire.countEvents(utf8(" {\"task\":\"a\",\"b\":[1,2]}")));
    assertEquals(1, Wire.countEvents(utf8("[{\"task\":\"a\"}]")));
    assertEquals(3, Wire.countEvents(utf8("[1,\"x\",null]")));
    for (String unreadable : List.of("[]", " [ ] ", "[{\"task\":\"a\"}", "[{\"task\":\"a]", "[}")) {
      assertEquals(0, Wire.countEvents(utf8(unreadable)), unreadable);
    }
  }

  @Test
  void theCountOfABatchIsTheNumberOfEventsItDecodesTo() throws Exception {
    List<TaskEvent> events = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      events.add(
          new TaskEvent(
              "t-" + i,
              "noop",
              TaskState.SUCCEEDED,
              "w",
              1,
              AT,
              3L,
              null,
              i % 2 == 0 ? "a \"reason\", with [brackets] and {braces}" : null,
              null,
              "default",
              Wire.JSON.readTree("{\"out\":[\"],\",{\"n\":" + i + "}]}")));
    }
    byte[] body = Wire.JSON.writeValueAsBytes(events);

    assertEquals(50, Wire.countEvents(body));
    assertEquals(50, EventSubscription.decodeAll("task.succeeded", body).size());
  }

  @Test
  void aRefusalIsItsOwnEventSoThatNoReaderTakesItForAnApplication() throws Exception {
    CommandRefused refused = new CommandRefused("c", Command.STOP, "s1", "unsigned", AT, "u@h");
    byte[] body = Wire.encode(refused);

    Event event = EventSubscription.decode("command.refused", body);

    assertEquals(new Event.Refused(refused), event);
    assertEquals("command.refused", event.routingKey());
    assertEquals(
        "{\"command\":\"c\",\"verb\":\"stop\",\"worker\":\"s1\",\"reason\":\"unsigned\","
            + "\"at\":\"2026-11-21T12:00:00.250Z\",\"issuedBy\":\"u@h\"}",
        new String(body, StandardCharsets.UTF_8));
  }

  @Test
  void undecodableEventsAreMalformed() {
    assertThrows(
        MalformedMessageException.class, () -> EventSubscription.decode("other.thing", utf8("{}")));
    assertThrows(
        MalformedMessageException.class,
        () -> EventSubscription.decode("task.running", utf8("not json")));
    MalformedMessageException e =
        assertThrows(
            MalformedMessageException.class, () -> Wire.decode(utf8("[1,2]"), TaskEvent.class));
    assertTrue(e.getMessage().startsWith("invalid TaskEvent: "), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
  }

  /** Turns the hand-written serializer off, leaving Jackson's bean serializer to write an event. */
  @JsonSerialize(using = JsonSerializer.None.class)
  private abstract static class BeanSerialized {}

  @Test
  void theEventSerializerWritesWhatTheBeanSerializerWrote() throws Exception {
    ObjectMapper bean = Wire.JSON.copy().addMixIn(TaskEvent.class, BeanSerialized.class);
    JsonNode result =
        Wire.JSON.readTree("{\"out\":\"a\\\"b\\n\u00e9\",\"n\":[1,2.5,null],\"o\":{}}");
    Instant nanos = Instant.parse("2026-11-21T12:00:00.123456789Z");
    Instant whole = Instant.parse("2026-11-21T12:00:00Z");
    List<TaskEvent> events = new java.util.ArrayList<>();
    for (TaskState state : TaskState.values()) {
      events.add(
          new TaskEvent(
              "t-1", "sleep", state, "w1", 1, AT, 12L, null, null, null, "default", null));
    }
    for (Cause cause : Cause.values()) {
      events.add(
          new TaskEvent(
              "t-2",
              "exec",
              TaskState.CANCELLED,
              "w\"2",
              3,
              nanos,
              0L,
              cause,
              "a reason\nwith a line",
              "bob@host",
              "q",
              result));
    }
    events.add(
        new TaskEvent(null, null, null, null, null, null, null, null, null, null, null, null));
    events.add(
        new TaskEvent(
            "t-3",
            "noop",
            TaskState.SUCCEEDED,
            "w",
            1,
            whole,
            null,
            null,
            null,
            null,
            null,
            NullNode.getInstance()));
    for (TaskEvent e : events) {
      assertEquals(bean.writeValueAsString(e), Wire.toJson(e), e.toString());
      assertEquals(
          bean.writerWithDefaultPrettyPrinter().writeValueAsString(e),
          Wire.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(e));
    }
  }
}
