package dev.conveyor.producer;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** {@code producer publish} against a real broker, run in-process. */
@ExtendWith(BrokerExtension.class)
class PublishIT {

  @TempDir Path dir;

  private static List<String> args(TestBroker broker, String... more) {
    List<String> all =
        new ArrayList<>(
            List.of("publish", "--uri=" + broker.uri(), "--namespace=" + broker.namespace()));
    all.addAll(List.of(more));
    return all;
  }

  private static CliRun publish(TestBroker broker, String... more) {
    return CliRun.run(args(broker, more).toArray(String[]::new));
  }

  private static List<GetResponse> drain(TestBroker broker, String queueName) {
    return broker.withChannel(
        ch -> {
          List<GetResponse> out = new ArrayList<>();
          for (GetResponse r = ch.basicGet(queueName, true);
              r != null;
              r = ch.basicGet(queueName, true)) {
            out.add(r);
          }
          return out;
        });
  }

  private static TaskMessage decode(GetResponse r) throws Exception {
    return Wire.decodeTask(r.getBody(), r.getProps().getMessageId());
  }

  @Test
  void aTaskLandsInTheDefaultQueueWithItsPropertiesAndBody(TestBroker broker) throws Exception {
    Instant before = Instant.now().minusSeconds(1);
    CliRun r =
        publish(
            broker,
            "--type=sleep",
            "--payload={\"seconds\":2}",
            "--timeout=30s",
            "--grace=5s",
            "--max-attempts=3",
            "--expires-in=10m");
    assertEquals(0, r.exitCode(), r.toString());
    assertEquals("", r.err(), r.toString());
    String id = r.out().strip();
    assertNotNull(UUID.fromString(id));

    String queue = broker.names().taskQueue("default");
    await().until(() -> broker.messageCount(queue) == 1);
    GetResponse got = drain(broker, queue).getFirst();
    assertEquals(id, got.getProps().getMessageId());
    assertEquals("application/json", got.getProps().getContentType());
    assertEquals(2, got.getProps().getDeliveryMode());
    assertEquals(broker.names().tasksExchange(), got.getEnvelope().getExchange());
    assertEquals("default", got.getEnvelope().getRoutingKey());

    JsonNode body = Wire.JSON.readTree(got.getBody());
    assertEquals(id, body.get("id").asText());
    assertEquals("sleep", body.get("type").asText());
    assertEquals(2, body.get("payload").get("seconds").asInt());
    assertEquals(30_000, body.get("timeoutMs").asLong());
    assertEquals(5_000, body.get("graceMs").asLong());
    assertEquals(3, body.get("maxAttempts").asInt());
    Instant created = Instant.parse(body.get("createdAt").asText());
    assertTrue(created.isAfter(before), body.toString());
    assertEquals(
        created.plus(Duration.ofMinutes(10)), Instant.parse(body.get("expiresAt").asText()));
  }

  @Test
  void countPublishesDistinctIdsAndPrintsEachOnce(TestBroker broker) throws Exception {
    CliRun r = publish(broker, "--type=noop", "--count=25");
    assertEquals(0, r.exitCode(), r.toString());
    List<String> ids = r.outLines();
    assertEquals(25, ids.size(), r.toString());
    assertEquals(25, new HashSet<>(ids).size());

    String queue = broker.names().taskQueue("default");
    await().until(() -> broker.messageCount(queue) == 25);
    List<String> queued = new ArrayList<>();
    for (GetResponse g : drain(broker, queue)) {
      queued.add(decode(g).id());
    }
    assertEquals(ids, queued, "printed in publish order, and queued in it");
  }

  @Test
  void jsonPrintsIdTypeAndQueue(TestBroker broker) throws Exception {
    broker.useQueue("reports");
    CliRun r = publish(broker, "--type=noop", "--count=2", "--json", "--queue=reports");
    assertEquals(0, r.exitCode(), r.toString());
    for (String line : r.outLines()) {
      JsonNode o = Wire.JSON.readTree(line);
      assertNotNull(UUID.fromString(o.get("id").asText()));
      assertEquals("noop", o.get("type").asText());
      assertEquals("reports", o.get("queue").asText());
    }
    assertEquals(2, r.outLines().size(), r.toString());
  }

  @Test
  void queueFlagCreatesTheQueueAndBindsIt(TestBroker broker) throws Exception {
    String queue = broker.useQueue("emails");
    CliRun r = publish(broker, "--type=noop", "--queue=emails", "--id=mail-1");
    assertEquals(0, r.exitCode(), r.toString());
    assertEquals("mail-1", r.out().strip());
    await().until(() -> broker.messageCount(queue) == 1);
    GetResponse got = drain(broker, queue).getFirst();
    assertEquals("emails", got.getEnvelope().getRoutingKey());
    assertEquals("mail-1", decode(got).id());
  }

  @Test
  void fromFilePublishesEveryLineInOrder(TestBroker broker) throws Exception {
    Path file =
        Files.writeString(
            dir.resolve("tasks.jsonl"),
            """
            {"id":"first","type":"sleep","payload":{"seconds":1},"timeoutMs":2000}
            {"type":"noop"}

            {"id":"third","type":"fail","maxAttempts":2}
            """);
    CliRun r = publish(broker, "--from=" + file, "--grace=1s");
    assertEquals(0, r.exitCode(), r.toString());
    List<String> ids = r.outLines();
    assertEquals(3, ids.size(), r.toString());
    assertEquals("first", ids.get(0));
    assertNotNull(UUID.fromString(ids.get(1)));
    assertEquals("third", ids.get(2));

    String queue = broker.names().taskQueue("default");
    await().until(() -> broker.messageCount(queue) == 3);
    List<TaskMessage> queued = new ArrayList<>();
    for (GetResponse g : drain(broker, queue)) {
      assertEquals(g.getProps().getMessageId(), decode(g).id());
      queued.add(decode(g));
    }
    assertEquals(ids, queued.stream().map(TaskMessage::id).toList());
    assertEquals(List.of("sleep", "noop", "fail"), queued.stream().map(TaskMessage::type).toList());
    assertEquals(2_000L, queued.get(0).timeoutMs());
    assertTrue(queued.stream().allMatch(t -> t.graceMs() == 1_000L), "--grace is a default");
    assertEquals(2, queued.get(2).maxAttempts());
  }

  @Test
  void fromStdin(TestBroker broker) throws Exception {
    String lines = "{\"id\":\"s1\",\"type\":\"noop\"}\n{\"id\":\"s2\",\"type\":\"noop\"}\n";
    CliRun r =
        CliRun.run(
            new ByteArrayInputStream(lines.getBytes(StandardCharsets.UTF_8)),
            false,
            args(broker, "--from", "-", "--json").toArray(String[]::new));
    assertEquals(0, r.exitCode(), r.toString());
    assertEquals(
        List.of("s1", "s2"),
        r.outLines().stream()
            .map(
                l -> {
                  try {
                    return Wire.JSON.readTree(l).get("id").asText();
                  } catch (Exception e) {
                    throw new AssertionError(l, e);
                  }
                })
            .toList());
    await().until(() -> broker.messageCount(broker.names().taskQueue("default")) == 2);
  }

  @Test
  void aBadLinePublishesNothingAndExits2(TestBroker broker) throws Exception {
    String queue =
        broker.withChannel(
            ch -> {
              broker.topology().declareCore(ch);
              return broker.topology().declareTaskQueue(ch, "default");
            });
    Path file =
        Files.writeString(
            dir.resolve("tasks.jsonl"),
            "{\"type\":\"noop\"}\n{\"type\":\"noop\"}\n{\"type\":\"noop\",\"timeoutMs\":-5}\n"
                + "{\"type\":\"noop\"}\n");
    CliRun r = publish(broker, "--from=" + file);
    assertEquals(2, r.exitCode(), r.toString());
    assertEquals("", r.out());
    assertEquals(
        List.of("producer: " + file + " line 3: timeoutMs must be positive; nothing was published"),
        r.errLines());
    assertEquals(0, broker.messageCount(queue));
  }

  @Test
  void anUnreachableBrokerExits3WithoutShowingThePassword() {
    CliRun r = CliRun.run("publish", "--uri=amqp://guest:secret@127.0.0.1:1/", "--type=noop");
    assertEquals(3, r.exitCode(), r.toString());
    assertEquals("", r.out());
    assertEquals(1, r.errLines().size(), r.toString());
    assertTrue(
        r.err().startsWith("producer: cannot connect to broker amqp://guest:****@"), r.err());
    assertFalse(r.err().contains("secret"), r.err());
  }

  @Test
  void refusedCredentialsExit3WithoutShowingThePassword(TestBroker broker) {
    URI u = broker.uri();
    String uri = "amqp://guest:wrong-secret@" + u.getHost() + ":" + u.getPort() + u.getRawPath();
    CliRun r = CliRun.run("publish", "--uri=" + uri, "--type=noop");
    assertEquals(3, r.exitCode(), r.toString());
    assertEquals(1, r.errLines().size(), r.toString());
    assertFalse(r.err().contains("wrong-secret"), r.err());
    assertTrue(r.err().contains("guest:****@"), r.err());
  }

  @Test
  void aQueueDeclaredWithOtherArgumentsIsAFailureNotASilentMisroute(TestBroker broker) {
    String queue = broker.useQueue("legacy");
    broker.withChannel(ch -> ch.queueDeclare(queue, true, false, false, Map.of()));
    CliRun r = publish(broker, "--type=noop", "--queue=legacy");
    assertEquals(1, r.exitCode(), r.toString());
    assertEquals("", r.out());
    assertTrue(r.err().startsWith("producer: cannot declare queue " + queue + ": "), r.err());
    assertTrue(r.err().contains("PRECONDITION_FAILED"), r.err());
  }

  @Test
  void aTaskTheBrokerRefusesExits1AndIsNotPrinted(TestBroker broker) {
    // A second queue on the same routing key that refuses every message makes the broker nack.
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          String q =
              ch.queueDeclare(
                      "",
                      false,
                      true,
                      true,
                      Map.of("x-max-length", 0, "x-overflow", "reject-publish"))
                  .getQueue();
          ch.queueBind(q, broker.names().tasksExchange(), "default");
          return q;
        });
    CliRun r = publish(broker, "--type=noop", "--id=refused-1");
    assertEquals(1, r.exitCode(), r.toString());
    assertEquals("", r.out(), "only confirmed tasks are printed");
    assertTrue(r.err().startsWith("producer: 1 task was not confirmed by the broker"), r.err());
    assertTrue(r.err().contains("refused-1: refused by the broker (nack)"), r.err());
    assertEquals(1, r.errLines().size(), r.toString());
  }

  @Test
  void waitGivesUpAtTheWaitTimeoutAndNamesTheTasksWithoutAnOutcome(TestBroker broker) {
    // No worker runs in this namespace: the published task can have no outcome.
    CliRun r = publish(broker, "--type=noop", "--id=lonely", "--wait", "--wait-timeout=1s");
    assertEquals(1, r.exitCode(), r.toString());
    assertEquals(List.of("lonely"), r.outLines(), "the id is printed once confirmed");
    assertEquals(2, r.errLines().size(), r.toString());
    assertEquals(
        "producer: gave up waiting after 1s: 1 of 1 tasks have no final outcome yet: lonely",
        r.errLines().get(0));
    // The last line sums the wait up.
    assertTrue(
        r.errLines()
            .get(1)
            .matches("producer: waited 1 task: 1 without an outcome \\(\\d+\\.\\d s\\)"),
        r.toString());
  }

  @Test
  void progressIsDrawnOnlyOnATerminal(TestBroker broker) {
    CliRun quiet =
        CliRun.run(
            new ByteArrayInputStream(new byte[0]),
            false,
            args(broker, "--type=noop", "--count=150").toArray(String[]::new));
    assertEquals(0, quiet.exitCode(), quiet.toString());
    assertEquals("", quiet.err());

    CliRun shown =
        CliRun.run(
            new ByteArrayInputStream(new byte[0]),
            true,
            args(broker, "--type=noop", "--count=150").toArray(String[]::new));
    assertEquals(0, shown.exitCode(), shown.toString());
    assertEquals(150, shown.outLines().size());
    assertTrue(shown.err().endsWith("\r\033[2Kpublished 150/150" + System.lineSeparator()));
  }
}
