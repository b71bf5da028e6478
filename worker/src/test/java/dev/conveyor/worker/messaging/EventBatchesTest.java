package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.EventEncoder;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.execution.ResultLeftOut;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** What queued up for the events thread, and the messages it sends for it. */
class EventBatchesTest {

  private static final String EVENTS = "ns.events";

  /** A task event whose body names its task and a sequence number. */
  private static EventBatches.Item task(String task, String state, int seq) {
    String body = "{\"task\":\"" + task + "\",\"state\":\"" + state + "\",\"seq\":" + seq + "}";
    return new EventBatches.Item(
        EVENTS, "task." + state, null, body.getBytes(StandardCharsets.UTF_8), task);
  }

  private static EventBatches.Item other(String exchange, String routingKey, String body) {
    return new EventBatches.Item(
        exchange, routingKey, null, body.getBytes(StandardCharsets.UTF_8), null);
  }

  /** What a reader of every message would decode, in order: (routing key, event). */
  private static List<Map.Entry<String, JsonNode>> received(List<EventBatches.Message> messages)
      throws Exception {
    List<Map.Entry<String, JsonNode>> out = new ArrayList<>();
    for (EventBatches.Message m : messages) {
      JsonNode node = Wire.JSON.readTree(m.body());
      if (node.isArray()) {
        assertThat(node.size()).isEqualTo(m.events()).isGreaterThan(1);
        node.forEach(e -> out.add(Map.entry(m.routingKey(), e)));
      } else {
        assertThat(m.events()).isEqualTo(1);
        out.add(Map.entry(m.routingKey(), node));
      }
    }
    return out;
  }

  @Test
  void oneEventStaysAPlainObjectByteForByte() {
    EventBatches.Item only = task("a", "running", 0);

    List<EventBatches.Message> messages = batches(List.of(only));

    assertThat(messages).hasSize(1);
    assertThat(messages.getFirst().body()).isSameAs(only.body());
    assertThat(messages.getFirst().routingKey()).isEqualTo("task.running");
  }

  @Test
  void interleavedTasksGoOutAsOneMessagePerRoutingKey() throws Exception {
    List<EventBatches.Item> queued = new ArrayList<>();
    // Four threads' worth of noop tasks: each task's running, then its succeeded, shuffled
    // together.
    for (int i = 0; i < 100; i += 2) {
      queued.add(task("t" + i, "running", 0));
      queued.add(task("t" + (i + 1), "running", 0));
      queued.add(task("t" + i, "succeeded", 1));
      queued.add(task("t" + (i + 1), "succeeded", 1));
    }

    List<EventBatches.Message> messages = batches(queued);

    assertThat(messages)
        .extracting(EventBatches.Message::routingKey)
        .containsExactly("task.running", "task.succeeded");
    assertThat(messages).extracting(EventBatches.Message::events).containsExactly(100, 100);
    assertThat(received(messages)).hasSize(200);
  }

  @Test
  void aTaskEventNeverOvertakesAnEarlierEventOfTheSameTask() throws Exception {
    List<EventBatches.Item> queued =
        List.of(
            task("a", "succeeded", 1), // its running went out in an earlier round
            task("b", "running", 0),
            task("b", "failed", 1),
            task("b", "requeued", 2),
            task("b", "running", 3), // redelivered here: after its requeued, not with a's batch
            task("c", "running", 0),
            task("b", "succeeded", 4));

    List<Map.Entry<String, JsonNode>> got = received(batches(queued));

    assertThat(got.stream().filter(e -> e.getValue().get("task").asText().equals("b")))
        .extracting(e -> e.getValue().get("seq").asInt())
        .containsExactly(0, 1, 2, 3, 4);
  }

  @Test
  void everythingButTaskEventsGoesAloneAndIsABarrier() throws Exception {
    List<EventBatches.Item> queued =
        List.of(
            task("a", "running", 0),
            other(EVENTS, "command.applied", "{\"command\":\"c\"}"),
            task("b", "running", 0),
            task("a", "cancelled", 1),
            other("", "amq.rabbitmq.reply-to.x", "{\"worker\":\"w\"}"),
            other(EVENTS, "worker.heartbeat", "{\"worker\":\"w\"}"),
            task("c", "running", 0));

    List<EventBatches.Message> messages = batches(queued);

    assertThat(messages)
        .extracting(m -> m.routingKey() + "x" + m.events())
        .containsExactly(
            "task.runningx1",
            "command.appliedx1",
            "task.runningx1",
            "task.cancelledx1",
            "amq.rabbitmq.reply-to.xx1",
            "worker.heartbeatx1",
            "task.runningx1");
    assertThat(messages.get(4).exchange()).isEmpty();
  }

  @Test
  void aMessageHoldsAtMost500Events() throws Exception {
    List<EventBatches.Item> queued = new ArrayList<>();
    for (int i = 0; i < 1201; i++) {
      queued.add(task("t" + i, "succeeded", 0));
    }

    List<EventBatches.Message> messages = batches(queued);

    assertThat(messages).extracting(EventBatches.Message::events).containsExactly(500, 500, 201);
    assertThat(received(messages))
        .extracting(e -> e.getValue().get("task").asText())
        .containsExactlyElementsOf(queued.stream().map(EventBatches.Item::task).toList());
  }

  @Test
  void aMessageHoldsAtMost256KiBAndALargerEventGoesAlone() throws Exception {
    String result = "x".repeat(100 * 1024);
    List<EventBatches.Item> queued = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      String body = "{\"task\":\"t" + i + "\",\"result\":\"" + result + "\"}";
      queued.add(
          new EventBatches.Item(
              EVENTS, "task.succeeded", null, body.getBytes(StandardCharsets.UTF_8), "t" + i));
    }
    String huge = "{\"task\":\"h\",\"result\":\"" + "y".repeat(300 * 1024) + "\"}";
    queued.add(
        new EventBatches.Item(
            EVENTS, "task.succeeded", null, huge.getBytes(StandardCharsets.UTF_8), "h"));

    List<EventBatches.Message> messages = batches(queued);

    assertThat(messages).extracting(EventBatches.Message::events).containsExactly(2, 2, 1, 1);
    assertThat(messages.subList(0, 3))
        .allSatisfy(m -> assertThat(m.body().length).isLessThanOrEqualTo(256 * 1024));
    assertThat(received(messages)).hasSize(6);
  }

  /**
   * Random interleavings of task lifecycles, with barriers among them: every event is sent exactly
   * once, each task's events in their order, and barriers stay where they were.
   */
  @RepeatedTest(50)
  void randomInterleavingsKeepEachTasksOrder() throws Exception {
    Random random = new Random();
    long seed = random.nextLong();
    random.setSeed(seed);
    List<List<String>> lifecycles =
        List.of(
            List.of("running", "succeeded"),
            List.of("running", "failed", "requeued", "running", "succeeded"),
            List.of("running", "timed-out", "dead"),
            List.of("cancelled"),
            List.of("succeeded"),
            List.of("running", "requeued", "running", "cancelled"));
    Map<String, List<String>> pending = new LinkedHashMap<>();
    int tasks = 1 + random.nextInt(300);
    for (int i = 0; i < tasks; i++) {
      pending.put("t" + i, new ArrayList<>(lifecycles.get(random.nextInt(lifecycles.size()))));
    }
    List<EventBatches.Item> queued = new ArrayList<>();
    Map<String, Integer> seq = new HashMap<>();
    List<String> live = new ArrayList<>(pending.keySet());
    int barriers = 0;
    while (!live.isEmpty()) {
      if (random.nextInt(100) == 0) {
        queued.add(other(EVENTS, "worker.heartbeat", "{\"seq\":" + barriers++ + "}"));
      }
      String t = live.get(random.nextInt(Math.min(live.size(), 8)));
      String state = pending.get(t).removeFirst();
      queued.add(task(t, state, seq.merge(t, 1, Integer::sum)));
      if (pending.get(t).isEmpty()) {
        live.remove(t);
      }
    }

    List<Map.Entry<String, JsonNode>> got = received(batches(queued));

    assertThat(got).as("seed %d", seed).hasSize(queued.size());
    Map<String, Integer> last = new HashMap<>();
    int barrier = -1;
    int tasksSinceBarrier = 0;
    int tasksBeforeBarrier = 0;
    for (Map.Entry<String, JsonNode> e : got) {
      if (e.getKey().startsWith("worker.")) {
        assertThat(e.getValue().get("seq").asInt()).as("seed %d", seed).isEqualTo(++barrier);
        tasksBeforeBarrier += tasksSinceBarrier;
        tasksSinceBarrier = 0;
        // As many task events precede it as were queued before it.
        int expected = 0;
        for (EventBatches.Item item : queued) {
          if (!item.batchable()) {
            if (new String(item.body(), StandardCharsets.UTF_8).equals(e.getValue().toString())) {
              break;
            }
          } else {
            expected++;
          }
        }
        assertThat(tasksBeforeBarrier).as("seed %d", seed).isEqualTo(expected);
        continue;
      }
      tasksSinceBarrier++;
      String t = e.getValue().get("task").asText();
      int s = e.getValue().get("seq").asInt();
      assertThat(s).as("seed %d, task %s", seed, t).isEqualTo(last.getOrDefault(t, 0) + 1);
      assertThat(e.getKey()).isEqualTo("task." + e.getValue().get("state").asText());
      last.put(t, s);
    }
    assertThat(barrier).isEqualTo(barriers - 1);
  }

  @Test
  void aTaskEventQueuedUnencodedIsEncodedAsTheEventAndBatchedByItsRoutingKey() throws Exception {
    TaskEvent running =
        new TaskEvent(
            "t1",
            "noop",
            TaskState.RUNNING,
            "w",
            1,
            Instant.parse("2026-12-04T10:00:00.5Z"),
            null,
            null,
            null,
            null,
            "default",
            null);
    TaskEvent succeeded = succeeded("t1", "noop", Wire.JSON.getNodeFactory().textNode("ok"));
    EventBatches.Item lazy = EventBatches.Item.task(EVENTS, null, "t1", running);

    assertThat(lazy.body()).isNull();
    assertThat(lazy.routingKey()).isEqualTo(running.routingKey());
    EventBatches.Item encoded = lazy.encoded(new EventEncoder());
    assertThat(encoded.body()).isEqualTo(Wire.encode(running));
    assertThat(encoded.event()).isNull();
    assertThat(encoded.encoded(new EventEncoder())).isSameAs(encoded);
    assertThat(Wire.decode(encoded.body(), TaskEvent.class)).isEqualTo(running);

    List<EventBatches.Message> messages =
        batches(
            List.of(
                encoded,
                EventBatches.Item.task(EVENTS, null, "t1", succeeded),
                task("t2", "running", 0)));
    assertThat(messages)
        .extracting(EventBatches.Message::routingKey)
        .containsExactly("task.running", "task.succeeded");
    assertThat(messages.getFirst().events()).isEqualTo(2);
    assertThat(messages.get(1).body()).isEqualTo(Wire.encode(succeeded));
  }

  private static TaskEvent succeeded(String task, String type, JsonNode result) {
    return new TaskEvent(
        task,
        type,
        TaskState.SUCCEEDED,
        "w",
        1,
        Instant.parse("2026-12-04T10:00:00.6Z"),
        3L,
        null,
        null,
        null,
        "default",
        result);
  }

  /**
   * A result of any size went out in its event: over the broker's max_message_size the broker
   * closed the events channel, and the event was lost without a word.
   */
  @Test
  void anEventOverTheLimitGoesWithoutItsResultAndSaysSo() throws Exception {
    JsonNode fits = Wire.JSON.getNodeFactory().textNode("x".repeat(512 * 1024));
    JsonNode big = Wire.JSON.getNodeFactory().textNode("y".repeat(ResultLeftOut.MAX_EVENT_BYTES));
    EventEncoder encoder = new EventEncoder();

    TaskEvent kept = succeeded("t1", "big", fits);
    assertThat(EventBatches.Item.task(EVENTS, null, "t1", kept).encoded(encoder).body())
        .isEqualTo(Wire.encode(kept));

    byte[] body =
        EventBatches.Item.task(EVENTS, null, "t2", succeeded("t2", "big", big))
            .encoded(encoder)
            .body();
    assertThat(body.length).isLessThan(1024);
    TaskEvent sent = Wire.decode(body, TaskEvent.class);
    assertThat(sent.result()).isNull();
    assertThat(sent.state()).isEqualTo(TaskState.SUCCEEDED);
    assertThat(sent.task()).isEqualTo("t2");
    assertThat(sent.reason())
        .isEqualTo(
            "result left out: 1024 KiB as JSON, over the 1024 KiB a task event" + " carries");
  }

  /** A result whose encoding fails: a tree node holding an object Jackson cannot write. */
  public static final class Unwritable {
    public String getValue() {
      throw new IllegalStateException("cannot be written");
    }
  }

  @Test
  void anEventThatCannotBeEncodedIsHandedBackAndTheOthersAreStillSent() throws Exception {
    TaskEvent unwritable =
        new TaskEvent(
            "bad",
            "noop",
            TaskState.SUCCEEDED,
            "w",
            1,
            Instant.parse("2026-12-04T10:00:00.5Z"),
            1L,
            null,
            null,
            null,
            "default",
            Wire.JSON.getNodeFactory().pojoNode(new Unwritable()));
    EventBatches.Item bad = EventBatches.Item.task(EVENTS, null, "bad", unwritable);
    List<EventBatches.Item> handedBack = new ArrayList<>();

    List<EventBatches.Message> messages =
        EventBatches.of(
            List.of(
                task("a", "running", 0),
                bad,
                task("a", "succeeded", 1),
                other(EVENTS, "worker.heartbeat", "{}")),
            new EventEncoder(),
            (item, e) -> handedBack.add(item));

    assertThat(handedBack).containsExactly(bad);
    assertThat(received(messages))
        .extracting(e -> e.getKey() + " " + e.getValue().path("task").asText())
        .containsExactly("task.running a", "task.succeeded a", "worker.heartbeat ");
  }

  /** The batches of events that all encode: a failure to encode fails the test. */
  private static List<EventBatches.Message> batches(List<EventBatches.Item> queued) {
    return EventBatches.of(
        queued,
        new EventEncoder(),
        (item, e) -> {
          throw e;
        });
  }
}
