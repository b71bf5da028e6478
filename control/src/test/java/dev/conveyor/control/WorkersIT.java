package dev.conveyor.control;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.producer.TaskPublisher;
import dev.conveyor.producer.TaskSpec;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.Worker;
import dev.conveyor.worker.WorkerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** {@code control} against real workers running in this JVM. */
@ExtendWith(BrokerExtension.class)
class WorkersIT {

  @TempDir Path dir;

  private TestBroker broker;
  private Events events;
  private TaskPublisher publisher;

  @BeforeEach
  void setUp(TestBroker broker) throws Exception {
    this.broker = broker;
    this.events = Events.open(broker);
    this.publisher = broker.own(TaskPublisher.open(broker.settings()));
  }

  private Worker worker(String name, int concurrency) throws Exception {
    return worker(name, concurrency, code -> {});
  }

  private Worker worker(String name, int concurrency, IntConsumer exit) throws Exception {
    return broker.own(
        Worker.start(
            WorkerConfig.defaults(broker.settings())
                .withName(name)
                .withConcurrency(concurrency)
                .withShutdownGrace(Duration.ofMillis(500))
                .withKillGrace(Duration.ofMillis(500))
                .withExit(exit)));
  }

  /** A worker that obeys only commands signed with {@code secret}. */
  private Worker keyedWorker(String name, String secret) throws Exception {
    Path key = Files.writeString(dir.resolve(name + ".key"), secret);
    var s = broker.settings();
    return broker.own(
        Worker.start(
            WorkerConfig.defaults(new BrokerSettings(s.uris(), s.namespace(), Optional.of(key)))
                .withName(name)
                .withConcurrency(1)
                .withShutdownGrace(Duration.ofMillis(500))
                .withKillGrace(Duration.ofMillis(500))
                .withExit(code -> {})));
  }

  private String publish(String type, int seconds) throws Exception {
    return publisher.publish(TaskSpec.of(type).payload(Map.of("seconds", seconds)).build()).id();
  }

  /** Sleep tasks, each awaited until it runs; returns the worker each runs on. */
  private List<String> running(int n) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(publish("sleep", 30));
    }
    ids.forEach(id -> events.await(id, TaskState.RUNNING));
    return ids;
  }

  private String workerOf(String task) {
    return events.await(task, TaskState.RUNNING).worker();
  }

  @Test
  void stopOfOneTaskReportsItPerWorkerAndLeavesTheOthers() throws Exception {
    worker("w1", 2);
    List<String> ids = running(2);

    Control.Result r = Control.run(broker, "stop", "--task", ids.get(0));

    assertEquals(0, r.exit(), r::toString);
    assertTrue(
        r.out()
            .lines()
            .anyMatch(
                l ->
                    l.matches(
                        "w1: stopped 1 task\\(s\\): "
                            + ids.get(0)
                            + " cancelled \\(user-stop\\) \\d+ ms")),
        r::toString);
    assertEquals(Cause.USER_STOP, events.await(ids.get(0), TaskState.CANCELLED).cause());
    assertEquals(0, Control.run(broker, "stop", "--task", ids.get(0)).exit(), "stopping twice");
    assertEquals(List.of(TaskState.RUNNING), events.states(ids.get(1)));
  }

  @Test
  void stopAllEndsEveryTaskOnEveryWorkerWhichThenKeepServing() throws Exception {
    worker("w1", 2);
    worker("w2", 2);
    List<String> ids = running(3);

    Control.Result r = Control.run(broker, "stop", "--all", "--json");

    assertEquals(0, r.exit(), r::toString);
    JsonNode report = Wire.JSON.readTree(r.out());
    assertTrue(report.get("ok").asBoolean(), r::toString);
    assertEquals("[\"w1\",\"w2\"]", report.get("live").toString());
    Set<String> stopped = new HashSet<>();
    for (JsonNode w : report.get("workers")) {
      for (JsonNode t : w.get("stopped")) {
        stopped.add(t.get("task").asText());
        assertEquals("cancelled", t.get("state").asText());
        assertEquals("user-stop", t.get("cause").asText());
      }
    }
    assertEquals(Set.copyOf(ids), stopped);
    for (String id : ids) {
      assertEquals(Cause.USER_STOP, events.await(id, TaskState.CANCELLED).cause());
    }

    String next = publisher.publish(TaskSpec.of("noop").build()).id();
    events.await(next, TaskState.SUCCEEDED);
  }

  /**
   * "ghost" never answers the status round, so finding the live workers lasts the whole
   * --discover-timeout (10 minutes): the stop must be published before that round ends, and the
   * command ends with its wait, reporting the cancelled task and the silent ghost.
   */
  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void aStopIsPublishedBeforeDiscoveryEndsAndReachesARunningTask() throws Exception {
    worker("w1", 1);
    String id = running(1).getFirst();

    Control.Result r =
        Control.run(
            broker,
            "stop",
            "--worker",
            "w1",
            "ghost",
            "--discover-timeout",
            "10m",
            "--wait-timeout",
            "20s",
            "--json");

    assertEquals(Cause.USER_STOP, events.await(id, TaskState.CANCELLED).cause());
    assertEquals(1, r.exit(), r::toString);
    JsonNode report = Wire.JSON.readTree(r.out());
    assertEquals("[\"ghost\"]", report.get("noAnswer").toString(), r::toString);
    JsonNode w1 = report.get("workers").get(0);
    assertEquals("w1", w1.get("worker").asText(), r::toString);
    assertEquals(id, w1.get("stopped").get(0).get("task").asText(), r::toString);
    assertEquals("cancelled", w1.get("stopped").get(0).get("state").asText(), r::toString);
    assertEquals("[]", report.get("unsettled").toString(), r::toString);
  }

  @Test
  void stopByWorkerThenByType() throws Exception {
    worker("w1", 1);
    worker("w2", 1);
    List<String> ids = running(2);
    String onW1 = workerOf(ids.get(0)).equals("w1") ? ids.get(0) : ids.get(1);
    String onW2 = onW1.equals(ids.get(0)) ? ids.get(1) : ids.get(0);

    Control.Result byWorker = Control.run(broker, "stop", "--worker", "w1");
    assertEquals(0, byWorker.exit(), byWorker::toString);
    assertTrue(byWorker.out().contains("w1: stopped 1 task(s): " + onW1), byWorker::toString);
    assertFalse(byWorker.out().contains("w2:"), byWorker::toString);
    events.await(onW1, TaskState.CANCELLED);
    assertEquals(List.of(TaskState.RUNNING), events.states(onW2));

    Control.Result byType = Control.run(broker, "stop", "--type", "noop", "sleep");
    assertEquals(0, byType.exit(), byType::toString);
    assertTrue(byType.out().contains("w1: nothing matched"), byType::toString);
    assertTrue(byType.out().contains("w2: stopped 1 task(s): " + onW2), byType::toString);
  }

  @Test
  void stopWithRequeuePutsTheTaskBack() throws Exception {
    worker("w1", 1);
    String id = running(1).getFirst();

    Control.Result r = Control.run(broker, "stop", "--task", id, "--requeue");

    assertEquals(0, r.exit(), r::toString);
    assertTrue(
        r.out().contains("w1: stopped 1 task(s): " + id + " requeued (user-stop)"), r::toString);
    await()
        .until(() -> events.states(id).stream().filter(s -> s == TaskState.RUNNING).count() == 2);
  }

  @Test
  void killEndsASleepingThread() throws Exception {
    worker("w1", 1);
    String id = running(1).getFirst();

    Control.Result r = Control.run(broker, "kill", "--worker", "w1");

    assertEquals(0, r.exit(), r::toString);
    assertTrue(
        r.out().contains("w1: killed 1 task(s): " + id + " cancelled (user-kill)"), r::toString);
  }

  @Test
  void killOfATaskThatIgnoresItReportsItAndTheWorkerEndsWith70() throws Exception {
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    worker("w1", 1, exit::complete);
    String spin = publish("spin", 5);
    events.await(spin, TaskState.RUNNING);

    Control.Result r = Control.run(broker, "kill", "--task", spin);

    assertEquals(0, r.exit(), r::toString);
    assertTrue(
        r.out().contains("w1: killed 1 task(s): " + spin + " cancelled (user-kill)"), r::toString);
    assertEquals(ExitCodes.STUCK_TASK, exit.get(10, TimeUnit.SECONDS));
  }

  @Test
  void aStopForAQueuedTaskRevokesItForWhenItArrives() throws Exception {
    worker("w1", 1);
    String first = running(1).getFirst();
    String queued = publish("sleep", 30);

    Control.Result r = Control.run(broker, "stop", "--task", queued);

    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.out().contains("w1: nothing matched"), r::toString);
    assertTrue(
        r.out().contains(queued + ": not running; revoked, will be cancelled when it arrives"),
        r::toString);

    assertEquals(0, Control.run(broker, "stop", "--task", first).exit());
    assertEquals(Cause.REVOKED, events.await(queued, TaskState.CANCELLED).cause());
    assertFalse(events.states(queued).contains(TaskState.RUNNING));
  }

  @Test
  void pauseAndResumeSayWhoIsPaused() throws Exception {
    worker("w1", 1);
    worker("w2", 1);

    Control.Result paused = Control.run(broker, "pause", "--worker", "w1");
    assertEquals(0, paused.exit(), paused::toString);
    assertTrue(
        paused.out().lines().anyMatch(l -> l.matches("w1: paused \\(\\d+ ms\\)")),
        paused::toString);
    assertFalse(paused.out().contains("w2"), paused::toString);

    JsonNode statuses = Wire.JSON.readTree(Control.run(broker, "status", "--json").out());
    assertEquals(2, statuses.size());
    assertTrue(statuses.get(0).get("paused").asBoolean(), statuses::toString);
    assertFalse(statuses.get(1).get("paused").asBoolean(), statuses::toString);

    Control.Result resumed = Control.run(broker, "resume");
    assertEquals(0, resumed.exit(), resumed::toString);
    assertTrue(
        resumed.out().lines().anyMatch(l -> l.matches("w1: taking tasks \\(\\d+ ms\\)")),
        resumed::toString);
    assertTrue(
        resumed.out().lines().anyMatch(l -> l.matches("w2: taking tasks \\(\\d+ ms\\)")),
        resumed::toString);
  }

  /**
   * A status round for every worker, as {@code status} and each command's discovery run it, whose
   * timeout and quiet window are an hour: only the broker's count of listening workers ends it
   * within the test's limit.
   */
  private List<String> roundEndedByTheCount() {
    return assertTimeoutPreemptively(
        Duration.ofSeconds(30),
        () -> {
          try (ControlSession session = ControlSession.open(broker.settings(), "test")) {
            return session
                .status(Target.all(), Duration.ofHours(1), Duration.ofHours(1))
                .answered();
          }
        });
  }

  @Test
  void aRoundForEveryWorkerEndsOnceEveryWorkerListeningHasAnswered() throws Exception {
    worker("w1", 1);
    worker("w2", 1);
    worker("w3", 1).close(); // no longer listening, so no longer counted

    assertEquals(List.of("w1", "w2"), roundEndedByTheCount());
  }

  /** The consumers of {@code ns.workers}, or -1 while it does not exist. */
  private long counted() {
    return broker.consumerCountOrMissing(broker.names().workers());
  }

  /** As when the node that held the queue is lost: the broker cancels its consumers. */
  @Test
  void workersAreCountedAgainOnceTheirQueueWent() throws Exception {
    worker("w1", 1);
    worker("w2", 1);
    broker.withChannel(ch -> ch.queueDelete(broker.names().workers()));

    await().atMost(Duration.ofSeconds(20)).until(() -> counted() == 2);
    assertEquals(List.of("w1", "w2"), roundEndedByTheCount());
  }

  @Test
  void aWorkerIsCountedAgainOnceItHasReconnected() throws Exception {
    String name = "lossy-" + broker.namespace();
    worker(name, 1);
    reconnect(name);

    assertEquals(List.of(name), roundEndedByTheCount());
  }

  /**
   * The consumer the broker cancelled when the queue went is not brought back by amqp-client's
   * recovery beside the new one: the worker is counted once after it reconnects, not twice.
   */
  @Test
  void aWorkerWhoseQueueWentIsCountedOnceAfterItHasReconnected() throws Exception {
    String name = "lossy-" + broker.namespace();
    worker(name, 1);
    broker.withChannel(ch -> ch.queueDelete(broker.names().workers()));
    await().atMost(Duration.ofSeconds(20)).until(() -> counted() == 1);
    reconnect(name);

    assertEquals(List.of(name), roundEndedByTheCount());
    assertEquals(1, counted());
  }

  /** Closes the worker's connection from the broker's side and waits until it has reconnected. */
  private void reconnect(String name) {
    EventLog log = broker.own(EventLog.open(broker));
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed("conveyor-worker " + name, 1);
    log.awaitWorker(name, WorkerEvent.RECONNECTED);
  }

  @Test
  void statusShowsTheWorkersAndTheirTasks() throws Exception {
    worker("w1", 2);
    String id =
        publisher
            .publish(
                TaskSpec.of("sleep")
                    .payload(Map.of("seconds", 30))
                    .timeout(Duration.ofSeconds(60))
                    .build())
            .id();
    events.await(id, TaskState.RUNNING);

    Control.Result r = Control.run(broker, "status");

    assertEquals(0, r.exit(), r::toString);
    List<String> lines = r.lines();
    assertTrue(
        lines.get(0).matches("WORKER +HOST +PID +QUEUES +CONCURRENCY +PAUSED +TASKS"), r::toString);
    assertTrue(lines.get(1).matches("w1 +\\S+ +\\d+ +default +2 +no +1"), r::toString);
    assertTrue(
        lines.stream().anyMatch(l -> l.matches("  " + id + " +sleep +1 +\\S+ +in \\S+ +\\S+")),
        r::toString);

    JsonNode json = Wire.JSON.readTree(Control.run(broker, "status", "--json").out());
    assertEquals("w1", json.get(0).get("worker").asText());
    assertEquals(id, json.get(0).get("tasks").get(0).get("id").asText());
  }

  /**
   * Waited for or not. Without waiting, the status round run beside the stop is what tells of the
   * refusal; either way that round hears the worker refuse its request too, through the stop's own
   * subscription, so the worker is not reported silent.
   */
  @Test
  void aStopWithoutTheWorkersKeyIsReportedAsRefusedNotAsRevoked() throws Exception {
    keyedWorker("s1", "s3cret");
    String id = running(1).getFirst();

    for (List<String> wait : List.of(List.of("--wait-timeout", "5s"), List.of("--no-wait"))) {
      List<String> args = new ArrayList<>(List.of("stop", "--task", id));
      args.addAll(wait);
      Control.Result r = Control.run(broker, args.toArray(String[]::new));

      assertEquals(1, r.exit(), r::toString);
      assertTrue(
          r.err().contains("refused by s1: unsigned — set CONVEYOR_CONTROL_KEY"), r::toString);
      assertFalse(r.out().contains("revoked"), r::toString);
      assertFalse(r.out().contains("no live workers"), r::toString);
      assertFalse(r.out().contains("did not answer"), r::toString);
    }
    assertEquals(List.of(TaskState.RUNNING), events.states(id));
  }

  @Test
  void aStopSignedWithAnotherKeyIsReportedAsRefused() throws Exception {
    keyedWorker("s1", "s3cret");
    String id = running(1).getFirst();
    Path wrong = Files.writeString(dir.resolve("wrong.key"), "not-the-key");

    Control.Result r =
        Control.run(broker, "stop", "--task", id, "--control-key-file", wrong.toString());

    assertEquals(1, r.exit(), r::toString);
    assertTrue(r.err().contains("refused by s1: bad signature"), r::toString);
    assertFalse(r.out().contains("revoked"), r::toString);
    assertEquals(List.of(TaskState.RUNNING), events.states(id));

    Path right = Files.writeString(dir.resolve("right.key"), "s3cret");
    Control.Result ok =
        Control.run(broker, "stop", "--task", id, "--control-key-file", right.toString());
    assertEquals(0, ok.exit(), ok::toString);
    events.await(id, TaskState.CANCELLED);
  }

  @Test
  void statusWithoutTheWorkersKeyIsRefusedNotEmpty() throws Exception {
    keyedWorker("s1", "s3cret");

    Control.Result r = Control.run(broker, "status");

    assertEquals(1, r.exit(), r::toString);
    assertFalse(r.out().contains("no live workers"), r::toString);
    assertTrue(r.err().contains("refused by s1: unsigned — set CONVEYOR_CONTROL_KEY"), r::toString);
  }

  @Test
  void statusShowsEveryWorkerThatAnswersToTheSameNameAndFlagsThem() throws Exception {
    worker("dup", 1);
    // A second process answering to the same name, as one started elsewhere would: it answers
    // status requests on the control exchange like a worker, and is counted like one.
    Connection other = broker.open("impostor");
    Channel ch = other.createChannel();
    String q = ch.queueDeclare("", false, true, true, null).getQueue();
    ch.queueBind(q, broker.names().controlExchange(), "");
    ch.basicConsume(new Topology(broker.names()).declareWorkers(ch), true, new DefaultConsumer(ch));
    ch.basicConsume(
        q,
        true,
        new DefaultConsumer(ch) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body)
              throws java.io.IOException {
            if (props.getReplyTo() == null) {
              return;
            }
            WorkerStatus me =
                new WorkerStatus(
                    "dup", "elsewhere", 4242, List.of("default"), 1, false, null, List.of());
            ch.basicPublish(
                "",
                props.getReplyTo(),
                new AMQP.BasicProperties.Builder().correlationId(props.getCorrelationId()).build(),
                Wire.encode(me));
          }
        });

    Control.Result r = Control.run(broker, "status");

    assertEquals(0, r.exit(), r::toString);
    List<String> rows = r.lines().stream().filter(l -> l.startsWith("dup")).toList();
    assertEquals(2, rows.size(), r::toString);
    assertTrue(rows.stream().anyMatch(l -> l.matches("dup\\* +elsewhere +4242 .*")), r::toString);
    assertTrue(r.err().contains("control status: 2 workers answer to the name dup"), r::toString);

    JsonNode json = Wire.JSON.readTree(Control.run(broker, "status", "--json").out());
    assertEquals(2, json.size(), json::toString);
    for (JsonNode w : json) {
      assertEquals("dup", w.get("worker").asText());
      assertTrue(w.get("duplicateName").asBoolean(), json::toString);
    }
  }
}
