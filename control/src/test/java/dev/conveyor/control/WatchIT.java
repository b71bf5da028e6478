package dev.conveyor.control;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.TestBroker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(BrokerExtension.class)
class WatchIT {

  /** The namespace exists, as after any worker or producer ran; the events come from the test. */
  @BeforeEach
  void namespace(TestBroker broker) {
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          return null;
        });
  }

  private static TaskEvent task(String id, TaskState state, Cause cause) {
    return new TaskEvent(
        id, "sleep", state, "w1", 1, Instant.now(), 12L, cause, null, "alice@box", "default", null);
  }

  /** Starts watch in the background and returns once it is subscribed. */
  private static CompletableFuture<Control.Result> watch(TestBroker broker, String... args) {
    Control.Running running = new Control.Running(Control.withBroker(broker, args));
    CompletableFuture<Control.Result> result = CompletableFuture.supplyAsync(running::run);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> running.err.toString().contains("watching") || result.isDone());
    return result;
  }

  private static void publish(TestBroker broker, String routingKey, Object body) {
    broker.publishEvent(routingKey, new String(Wire.encode(body), StandardCharsets.UTF_8));
  }

  @Test
  void jsonPrintsOneObjectPerEventWithItsRoutingKeyAndStopsAtCount(TestBroker broker)
      throws Exception {
    CompletableFuture<Control.Result> watch = watch(broker, "watch", "--json", "--count", "3");

    TaskEvent running = task("t1", TaskState.RUNNING, null);
    TaskEvent cancelled = task("t1", TaskState.CANCELLED, Cause.USER_STOP);
    CommandApplied applied =
        new CommandApplied(
            "c1",
            Command.STOP,
            "w1",
            List.of("t1"),
            List.of(),
            List.of(),
            false,
            null,
            "alice@box");
    publish(broker, running.routingKey(), running);
    publish(broker, applied.ROUTING_KEY, applied);
    publish(broker, cancelled.routingKey(), cancelled);
    publish(broker, "task.succeeded", task("t2", TaskState.SUCCEEDED, Cause.HANDLER));

    Control.Result r = watch.get(10, TimeUnit.SECONDS);
    assertEquals(0, r.exit(), r::toString);
    List<String> lines = r.lines();
    assertEquals(3, lines.size(), r::toString);
    JsonNode first = Wire.JSON.readTree(lines.get(0));
    assertEquals("task.running", first.get("event").asText());
    assertEquals("t1", first.get("task").asText());
    JsonNode second = Wire.JSON.readTree(lines.get(1));
    assertEquals("command.applied", second.get("event").asText());
    assertEquals("c1", second.get("command").asText());
    JsonNode third = Wire.JSON.readTree(lines.get(2));
    assertEquals("task.cancelled", third.get("event").asText());
    assertEquals("user-stop", third.get("cause").asText());
    assertEquals("alice@box", third.get("issuedBy").asText());
  }

  @Test
  void aFilterSelectsEventsAndTextLinesNameThem(TestBroker broker) throws Exception {
    CompletableFuture<Control.Result> watch =
        watch(broker, "watch", "--filter", "task.*", "--count", "1");

    publish(
        broker,
        "worker.heartbeat",
        new WorkerEvent("w1", WorkerEvent.HEARTBEAT, Instant.now(), List.of(), "h", 1L));
    TaskEvent timedOut = task("t9", TaskState.TIMED_OUT, Cause.DEADLINE);
    publish(broker, timedOut.routingKey(), timedOut);

    Control.Result r = watch.get(10, TimeUnit.SECONDS);
    assertEquals(0, r.exit(), r::toString);
    assertEquals(1, r.lines().size(), r::toString);
    String line = r.lines().getFirst();
    assertTrue(
        line.matches(
            "\\d\\d:\\d\\d:\\d\\d\\.\\d{3} task\\.timed-out t9 type=sleep queue=default worker=w1"
                + " attempt=1 durationMs=12 cause=deadline issuedBy=alice@box"),
        line);
  }

  /** A busy worker sends an array of events sharing a routing key: each is its own line. */
  @Test
  void anArrayOfEventsIsPrintedAsOneLinePerEvent(TestBroker broker) throws Exception {
    CompletableFuture<Control.Result> watch = watch(broker, "watch", "--json", "--count", "4");

    publish(
        broker,
        "task.succeeded",
        List.of(
            task("a", TaskState.SUCCEEDED, null),
            task("b", TaskState.SUCCEEDED, null),
            task("c", TaskState.SUCCEEDED, null)));
    publish(broker, "task.running", task("d", TaskState.RUNNING, null));

    Control.Result r = watch.get(10, TimeUnit.SECONDS);
    assertEquals(0, r.exit(), r::toString);
    List<String> tasks = new java.util.ArrayList<>();
    for (String line : r.lines()) {
      JsonNode event = Wire.JSON.readTree(line);
      tasks.add(event.get("event").asText() + " " + event.get("task").asText());
    }
    assertEquals(
        List.of("task.succeeded a", "task.succeeded b", "task.succeeded c", "task.running d"),
        tasks,
        r::toString);
  }

  @Test
  void forEndsTheWatchAfterADuration(TestBroker broker) throws Exception {
    Control.Result r = watch(broker, "watch", "--for", "300ms").get(10, TimeUnit.SECONDS);
    assertEquals(0, r.exit(), r::toString);
    assertEquals("", r.out());
  }

  /**
   * A watch whose connection drops says so, and says when it is back and that what was published
   * meanwhile was not shown; then it goes on printing.
   */
  @Test
  void aWatchThatLosesItsConnectionSaysSoAndGoesOn(TestBroker broker) throws Exception {
    Control.Running running =
        new Control.Running(Control.withBroker(broker, "watch", "--count", "1"));
    CompletableFuture<Control.Result> watch = CompletableFuture.supplyAsync(running::run);
    await().atMost(Duration.ofSeconds(10)).until(() -> running.err.toString().contains("watching"));
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed("conveyor-control watch " + broker.namespace(), 1);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> running.err.toString().contains("watch: reconnected to the broker"));

    publish(broker, "task.running", task("t1", TaskState.RUNNING, null));
    Control.Result r = watch.get(10, TimeUnit.SECONDS);
    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.out().contains("task.running t1"), r::toString);
    assertTrue(
        r.err().contains("watch: lost the connection to the broker; reconnecting"), r::toString);
    assertTrue(r.err().contains("events published while disconnected were not shown"), r::toString);
  }

  /**
   * A message on the events exchange that holds no event (JSON {@code null}, as anyone allowed to
   * publish there may send) is skipped with a warning; the watch goes on with the next. It used to
   * throw out of the consumer, and amqp-client then closed the channel: the watch heard nothing
   * more, silently.
   */
  @Test
  void aMessageThatHoldsNoEventIsSkippedAndTheWatchGoesOn(TestBroker broker) throws Exception {
    try (LogCapture log = LogCapture.of(EventSubscription.class)) {
      CompletableFuture<Control.Result> watch = watch(broker, "watch", "--count", "1");

      broker.publishEvent("task.running", "null");
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  log.warnings().stream()
                      .anyMatch(w -> w.contains("ignoring undecodable event task.running")));
      publish(broker, "task.running", task("t1", TaskState.RUNNING, null));

      Control.Result r = watch.get(10, TimeUnit.SECONDS);
      assertEquals(0, r.exit(), r::toString);
      assertTrue(r.out().contains("task.running t1"), r::toString);
    }
  }
}
