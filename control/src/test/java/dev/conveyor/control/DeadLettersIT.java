package dev.conveyor.control;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code control dead list|replay|purge} on messages the test puts into {@code ns.dead}. */
@ExtendWith(BrokerExtension.class)
class DeadLettersIT {

  private static final String FAIL_BODY = "{\"id\":\"fail-1\",\"type\":\"send\",\"payload\":{}}";

  private TestBroker broker;
  private String dead;

  /**
   * Three dead letters: one rejected by the broker's own dead-lettering (x-death only), two
   * dead-lettered with Conveyor's headers as a worker does.
   */
  @BeforeEach
  void deadLetters(TestBroker broker) {
    this.broker = broker;
    this.dead = broker.names().deadQueue();
    broker.useQueue("emails");
    broker.withConfirms(
        ch -> {
          broker.topology().declareCore(ch);
          String q = broker.topology().declareTaskQueue(ch, "default");
          ch.basicPublish(
              broker.names().tasksExchange(),
              "default",
              new AMQP.BasicProperties.Builder()
                  .messageId("rej-1")
                  .contentType("application/json")
                  .deliveryMode(2)
                  .build(),
              "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          await().until(() -> ch.queueDeclarePassive(q).getMessageCount() == 1);
          GetResponse got = ch.basicGet(q, false);
          ch.basicReject(got.getEnvelope().getDeliveryTag(), false);
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              props(
                  "fail-1",
                  Map.of(
                      Headers.DEAD_REASON,
                      "handler threw: boom",
                      Headers.DEAD_CAUSE,
                      "handler",
                      Headers.ORIGIN_QUEUE,
                      "emails",
                      Headers.ATTEMPTS_USED,
                      3,
                      Headers.HISTORY,
                      List.of("1 w1 failed boom", "2 w1 failed boom"),
                      "trace",
                      "keep-me")),
              FAIL_BODY.getBytes(StandardCharsets.UTF_8));
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              props(
                  "exp-1",
                  Map.of(
                      Headers.DEAD_REASON, "expired before it started",
                      Headers.DEAD_CAUSE, "expired",
                      Headers.ORIGIN_QUEUE, "default")),
              "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          return null;
        });
    awaitDead(3);
  }

  private static AMQP.BasicProperties props(String id, Map<String, Object> headers) {
    return new AMQP.BasicProperties.Builder()
        .messageId(id)
        .contentType("application/json")
        .deliveryMode(2)
        .headers(headers)
        .build();
  }

  private void awaitDead(long count) {
    await().atMost(Duration.ofSeconds(10)).until(() -> broker.messageCount(dead) == count);
  }

  private GetResponse take(String queue) {
    return broker.withChannel(ch -> ch.basicGet(broker.names().taskQueue(queue), true));
  }

  @Test
  void listShowsEveryLetterAndLeavesThemThere() throws Exception {
    Control.Result r = Control.run(broker, "dead", "list");
    assertEquals(0, r.exit(), r::toString);
    String out = r.out();
    assertTrue(
        out.lines().anyMatch(l -> l.matches("rej-1 +noop +rejected +- +default +- +\\d+B")), out);
    assertTrue(
        out.lines()
            .anyMatch(
                l -> l.matches("fail-1 +send +handler threw: boom +handler +emails +3 +\\d+B")),
        out);
    assertTrue(out.contains("exp-1"), out);
    assertTrue(out.contains("  2 w1 failed boom"), out);
    awaitDead(3);

    Control.Result json = Control.run(broker, "dead", "list", "--json");
    JsonNode letters = Wire.JSON.readTree(json.out());
    assertEquals(3, letters.size(), json::toString);
    JsonNode fail = null;
    for (JsonNode l : letters) {
      if (l.get("id").asText().equals("fail-1")) {
        fail = l;
      }
    }
    assertEquals("emails", fail.get("origin").asText());
    assertEquals(3, fail.get("attempts").asInt());
    assertEquals(FAIL_BODY.length(), fail.get("size").asInt());
    awaitDead(3);

    Control.Result limited = Control.run(broker, "dead", "list", "--limit", "1");
    assertTrue(limited.out().contains("showing 1 of 3"), limited::toString);
    awaitDead(3);
  }

  @Test
  void replayOfOneSendsItBackToItsQueueWithFreshHeaders() {
    Control.Result r = Control.run(broker, "dead", "replay", "--id", "fail-1");
    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.out().contains("fail-1 -> emails"), r::toString);
    assertTrue(r.out().contains("replayed 1 message(s)"), r::toString);
    awaitDead(2);

    await().until(() -> broker.messageCount(broker.names().taskQueue("emails")) == 1);
    GetResponse replayed = take("emails");
    assertEquals("fail-1", replayed.getProps().getMessageId());
    assertEquals("application/json", replayed.getProps().getContentType());
    assertEquals(2, replayed.getProps().getDeliveryMode());
    assertArrayEquals(FAIL_BODY.getBytes(StandardCharsets.UTF_8), replayed.getBody());
    Map<String, Object> headers = replayed.getProps().getHeaders();
    assertEquals("keep-me", headers.get("trace").toString());
    assertFresh(headers);
  }

  /** No history left; the task queue's own delivery count starts again from zero. */
  private static void assertFresh(Map<String, Object> headers) {
    if (headers == null) {
      return;
    }
    Object count = headers.getOrDefault(Headers.DELIVERY_COUNT, 0);
    assertEquals(0L, ((Number) count).longValue(), headers::toString);
    assertTrue(
        headers.keySet().stream()
            .filter(h -> !h.equals(Headers.DELIVERY_COUNT))
            .noneMatch(DeadReplayCommand::isHistory),
        headers::toString);
  }

  @Test
  void replayOfAllUsesTheBrokersDeathRecordWhereOurHeadersAreMissing() {
    Control.Result r = Control.run(broker, "dead", "replay", "--all", "--json");
    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.out().contains("\"replayed\":["), r::toString);
    awaitDead(0);
    await().until(() -> broker.messageCount(broker.names().taskQueue("default")) == 2);
    await().until(() -> broker.messageCount(broker.names().taskQueue("emails")) == 1);
    for (int i = 0; i < 2; i++) {
      GetResponse m = take("default");
      assertFresh(m.getProps().getHeaders());
    }
  }

  /** A letter with no id anywhere (not JSON, no message_id) was reported as "null". */
  @Test
  void aSkippedLetterWithoutAnIdIsSaidToHaveNone() {
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              props(null, Map.of()),
              "null".getBytes(StandardCharsets.UTF_8));
          return null;
        });
    awaitDead(4);

    Control.Result r = Control.run(broker, "dead", "replay", "--all");

    assertEquals(1, r.exit(), r::toString);
    assertTrue(
        r.err()
            .contains(
                "control dead replay: a letter without an id not replayed: no origin queue in its"
                    + " headers"),
        r::toString);
    assertTrue(!r.err().contains("null"), r::toString);
  }

  @Test
  void aLetterWithoutAnOriginQueueIsSkippedAndKeptWhileTheOthersAreReplayed() throws Exception {
    // Dead-lettered by some other client: no Conveyor headers and no broker death record.
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              props("orphan-1", Map.of(Headers.DEAD_REASON, "hand-made")),
              "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              props("bad-origin-1", Map.of(Headers.ORIGIN_QUEUE, "no/such queue")),
              "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          return null;
        });
    awaitDead(5);

    Control.Result r = Control.run(broker, "dead", "replay", "--all", "--json");

    assertEquals(1, r.exit(), r::toString);
    assertTrue(
        r.err().contains("orphan-1 not replayed: no origin queue in its headers"), r::toString);
    assertTrue(
        r.err().contains("bad-origin-1 not replayed: invalid origin queue 'no/such queue'"),
        r::toString);
    JsonNode result = Wire.JSON.readTree(r.out());
    assertEquals(3, result.get("replayed").size(), r::toString);
    assertEquals(2, result.get("skipped").size(), r::toString);
    // The skipped ones stay where they were; the three with an origin went home.
    awaitDead(2);
    await().until(() -> broker.messageCount(broker.names().taskQueue("default")) == 2);
    await().until(() -> broker.messageCount(broker.names().taskQueue("emails")) == 1);
    Control.Result left = Control.run(broker, "dead", "list", "--json");
    JsonNode letters = Wire.JSON.readTree(left.out());
    assertEquals(
        Set.of("orphan-1", "bad-origin-1"),
        Set.of(letters.get(0).get("id").asText(), letters.get(1).get("id").asText()),
        left::toString);
  }

  @Test
  void replayOfAnUnknownIdFailsAndMovesNothing() {
    Control.Result r = Control.run(broker, "dead", "replay", "--id", "nope");
    assertEquals(1, r.exit(), r::toString);
    assertTrue(r.err().contains("nope is not in the dead-letter queue"), r::toString);
    assertTrue(r.out().contains("replayed 0 message(s)"), r::toString);
    awaitDead(3);
  }

  @Test
  void purgeRemovesTheChosenOnesOrAll() {
    Control.Result one = Control.run(broker, "dead", "purge", "--id", "exp-1", "rej-1");
    assertEquals(0, one.exit(), one::toString);
    assertEquals("purged 2 message(s)\n", one.out());
    awaitDead(1);

    Control.Result all = Control.run(broker, "dead", "purge", "--all", "--json");
    assertEquals(0, all.exit(), all::toString);
    assertEquals("{\"purged\":1,\"notFound\":[]}\n", all.out());
    awaitDead(0);
  }

  /** Three letters whose AMQP message_id is not the task's id: different, missing, and absent. */
  private void lettersWithConfusingIds() {
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              props("amqp-1", Map.of(Headers.ORIGIN_QUEUE, "default")),
              "{\"id\":\"body-1\",\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              new AMQP.BasicProperties.Builder()
                  .headers(Map.of(Headers.ORIGIN_QUEUE, "default"))
                  .deliveryMode(2)
                  .build(),
              "{\"id\":\"body-2\",\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              props("amqp-3", Map.of(Headers.ORIGIN_QUEUE, "default")),
              "{\"id\":\"\",\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          return null;
        });
    awaitDead(6);
  }

  @Test
  void aLetterIsKnownByItsTaskIdInListReplayAndPurge() throws Exception {
    lettersWithConfusingIds();

    JsonNode letters = Wire.JSON.readTree(Control.run(broker, "dead", "list", "--json").out());
    Set<String> ids = new java.util.HashSet<>();
    letters.forEach(l -> ids.add(l.get("id").asText()));
    // The body's id where it has a usable one (as the worker names the task), else message_id.
    assertEquals(Set.of("rej-1", "fail-1", "exp-1", "body-1", "body-2", "amqp-3"), ids);
    for (JsonNode l : letters) {
      if (l.get("id").asText().equals("body-1")) {
        assertEquals("amqp-1", l.get("messageId").asText(), l::toString);
      }
    }
    String text = Control.run(broker, "dead", "list").out();
    assertTrue(text.lines().anyMatch(l -> l.startsWith("body-1 ")), text);
    assertTrue(text.lines().anyMatch(l -> l.startsWith("body-2 ")), text);

    Control.Result byMessageId = Control.run(broker, "dead", "replay", "--id", "amqp-1");
    assertEquals(1, byMessageId.exit(), byMessageId::toString);
    assertTrue(byMessageId.err().contains("amqp-1 is not in the dead-letter queue"));

    Control.Result replay = Control.run(broker, "dead", "replay", "--id", "body-1", "body-2");
    assertEquals(0, replay.exit(), replay::toString);
    assertTrue(replay.out().contains("body-1 -> default"), replay::toString);
    assertTrue(replay.out().contains("body-2 -> default"), replay::toString);
    awaitDead(4);

    Control.Result purge = Control.run(broker, "dead", "purge", "--id", "amqp-3");
    assertEquals(0, purge.exit(), purge::toString);
    assertEquals("purged 1 message(s)\n", purge.out());
    awaitDead(3);
  }

  /** Replaces the fixtures with letters d0…d(n-1), published in that order. */
  private List<String> lettersInOrder(int n) {
    broker.drainDead();
    List<String> ids = new java.util.ArrayList<>();
    broker.withConfirms(
        ch -> {
          for (int i = 0; i < n; i++) {
            ids.add("d" + i);
            ch.basicPublish(
                broker.names().deadExchange(),
                "",
                props("d" + i, Map.of(Headers.ORIGIN_QUEUE, "default")),
                ("{\"type\":\"noop\",\"n\":" + i + "}").getBytes(StandardCharsets.UTF_8));
          }
          return null;
        });
    awaitDead(n);
    return ids;
  }

  /** Takes everything out (acked, so this read is the last one) and checks it is as published. */
  private void assertUntouched(List<String> expected) {
    List<GetResponse> left = broker.drainDead();
    assertEquals(expected, left.stream().map(m -> m.getProps().getMessageId()).toList(), "order");
    for (GetResponse m : left) {
      Map<String, Object> h = m.getProps().getHeaders();
      Object count = h == null ? null : h.get(Headers.DELIVERY_COUNT);
      assertTrue(
          count == null || ((Number) count).longValue() == 0,
          m.getProps().getMessageId() + " delivery count " + count);
      assertEquals(false, m.getEnvelope().isRedeliver(), m.getProps().getMessageId());
    }
  }

  @Test
  void listingLeavesEveryLetterAsItWasInTheSameOrder() {
    List<String> ids = lettersInOrder(5);

    for (String[] args :
        List.of(
            new String[] {"dead", "list"},
            new String[] {"dead", "list", "--json"},
            new String[] {"dead", "list", "--limit", "2"})) {
      Control.Result r = Control.run(broker, args);
      assertEquals(0, r.exit(), r::toString);
      awaitDead(5);
    }
    Control.Result limited = Control.run(broker, "dead", "list", "--limit", "2");
    assertTrue(limited.out().contains("showing 2 of 5"), limited::toString);
    assertTrue(limited.out().contains("d0 ") && limited.out().contains("d1 "), limited::toString);

    assertUntouched(ids);
  }

  @Test
  void replayAndPurgeOfSomeLeaveTheOthersAsTheyWere() {
    List<String> ids = lettersInOrder(5);

    Control.Result replay = Control.run(broker, "dead", "replay", "--id", "d1");
    assertEquals(0, replay.exit(), replay::toString);
    Control.Result purge = Control.run(broker, "dead", "purge", "--id", "d3");
    assertEquals(0, purge.exit(), purge::toString);
    awaitDead(3);

    assertUntouched(List.of(ids.get(0), ids.get(2), ids.get(4)));
  }
}
