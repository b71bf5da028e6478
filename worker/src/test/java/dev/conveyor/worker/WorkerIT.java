package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.PrivateVhost;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.messaging.TaskConsumer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(BrokerExtension.class)
class WorkerIT {

  private static Worker worker(TestBroker broker) throws Exception {
    return broker.own(
        Worker.start(
            WorkerConfig.defaults(broker.settings())
                .withName("w1")
                .withConcurrency(4)
                .withShutdownGrace(Duration.ofSeconds(5))));
  }

  @Test
  void runsATaskPublishedByAnyClientWithOnlyTypeAndPayload(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    worker(broker);
    // No message_id and no id: the worker must make one up and still run it.
    Broker.task(broker, "default", "{\"type\":\"noop\",\"payload\":{}}", null);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> events.tasks().stream().anyMatch(e -> e.state() == TaskState.SUCCEEDED));
    TaskEvent done =
        events.tasks().stream().filter(e -> e.state() == TaskState.SUCCEEDED).findFirst().get();
    assertThat(done.task()).isNotBlank();
    assertThat(done.worker()).isEqualTo("w1");
    assertThat(done.attempt()).isEqualTo(1);
    assertThat(events.states(done.task())).containsExactly(TaskState.RUNNING, TaskState.SUCCEEDED);
  }

  /**
   * A task queue deleted under a running worker (an operator's purge by deletion, say): the broker
   * cancels the worker's consumer, and the worker declares the queue again and takes the tasks
   * published to it; the task it was running settles as it would have.
   */
  @Test
  void aTaskQueueDeletedUnderTheWorkerIsDeclaredAndConsumedAgain(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    Worker w = worker(broker);
    String running = Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":1}}");
    events.await(running, TaskState.RUNNING);

    broker.withChannel(ch -> ch.queueDelete(broker.names().taskQueue("default")));

    events.await(running, TaskState.SUCCEEDED);
    String next = Broker.task(broker, "{\"type\":\"noop\"}");
    events.await(next, TaskState.SUCCEEDED, Duration.ofSeconds(20));
    assertThat(w.ready()).isTrue();
  }

  /** Deleted while the worker was paused, the task queue is there again when it resumes. */
  @Test
  void aTaskQueueDeletedWhileTheWorkerWasPausedIsDeclaredWhenItResumes(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    worker(broker);
    ControlMessage pause = Broker.command(Command.PAUSE, Target.all(), false);
    Broker.control(broker, pause);
    Awaitility.await().until(() -> events.applied(pause.id()).size() == 1);

    broker.withChannel(ch -> ch.queueDelete(broker.names().taskQueue("default")));
    ControlMessage resume = Broker.command(Command.RESUME, Target.all(), false);
    Broker.control(broker, resume);
    Awaitility.await().until(() -> events.applied(resume.id()).size() == 1);

    // Declared by the worker, not by the test's publish below.
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> broker.consumerCountOrMissing(broker.names().taskQueue("default")) == 1);
    events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);
  }

  /**
   * A task queue deleted and consumed again, then the connection lost: amqp-client's recovery
   * brings back the worker's consumer, not also the one the broker cancelled with the queue (two
   * consumers would share the worker's prefetch on one channel).
   */
  @Test
  void aTaskQueueConsumedAgainIsConsumedOnceAfterAReconnection(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    String name = "redeclared-" + broker.namespace();
    Worker w =
        broker.own(
            Worker.start(
                WorkerConfig.defaults(broker.settings()).withName(name).withConcurrency(1)));
    String queue = broker.names().taskQueue("default");
    Awaitility.await().atMost(Duration.ofSeconds(20)).until(w::ready);
    broker.withChannel(ch -> ch.queueDelete(queue));
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> broker.consumerCountOrMissing(queue) == 1);

    new BrokerAdmin(broker.uri()).closeConnectionsOnceListed("conveyor-worker " + name, 1);
    // Announced once amqp-client has recovered the connection, its channels and their consumers.
    events.awaitWorker(name, WorkerEvent.RECONNECTED);

    assertThat(broker.consumerCountOrMissing(queue)).as("consumers of the task queue").isEqualTo(1);
    events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);
  }

  /**
   * A task queue deleted where the worker may not declare it again (here a vhost's queue limit):
   * the refused declaration closes the channel, and the reopened channel's consumer, without its
   * queue, is refused in turn. The worker tries again at a pace, not in a loop that would flood the
   * broker and its log, and consumes the queue once it is there again.
   */
  @Test
  void aTaskQueueThatCannotBeDeclaredAgainIsTriedAgainAtAPaceUntilItIsThere(TestBroker shared)
      throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri());
        LogCapture log = LogCapture.of(TaskConsumer.class)) {
      TestBroker broker = vhost.testBroker();
      String queue = broker.names().taskQueue("default");
      Worker w = worker(broker);
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(w::ready);

      vhost.limitQueues(0);
      broker.withChannel(ch -> ch.queueDelete(queue));
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> failedReopens(log) >= 1);
      // A refused consume closes the channel at once: in a loop, hundreds within a second.
      Awaitility.await()
          .during(Duration.ofSeconds(2))
          .atMost(Duration.ofSeconds(3))
          .until(() -> failedReopens(log) <= 2);
      assertThat(w.ready()).as("ready without its queue").isFalse();

      vhost.limitQueues(-1); // no limit
      broker.withChannel(ch -> broker.topology().declareTaskQueue(ch, "default"));
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> broker.consumerCountOrMissing(queue) == 1);
      EventLog events = broker.own(EventLog.open(broker));
      events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);
      assertThat(w.ready()).isTrue();
    }
  }

  private static long failedReopens(LogCapture log) {
    return log.warnings().stream()
        .filter(line -> line.contains("could not reopen the channel of queue default"))
        .count();
  }

  @Test
  void takesTheIdFromMessageIdAndLeavesTheQueueEmpty(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    Worker w = worker(broker);
    String id = Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":0.05}}");
    events.await(id, TaskState.SUCCEEDED);
    w.close();
    assertThat(broker.messageCount(broker.names().taskQueue("default"))).isZero();
  }

  @Test
  void retriesAFailingTaskThenDeadLettersItWithItsHistory(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    worker(broker);
    String id =
        Broker.task(
            broker, "{\"type\":\"fail\",\"payload\":{\"message\":\"boom\"},\"maxAttempts\":3}");
    TaskEvent dead = events.await(id, TaskState.DEAD);
    assertThat(dead.cause()).isEqualTo(Cause.HANDLER);
    assertThat(dead.attempt()).isEqualTo(3);
    assertThat(events.states(id))
        .containsExactly(
            TaskState.RUNNING,
            TaskState.FAILED,
            TaskState.REQUEUED,
            TaskState.RUNNING,
            TaskState.FAILED,
            TaskState.REQUEUED,
            TaskState.RUNNING,
            TaskState.FAILED,
            TaskState.DEAD);
    List<GetResponse> dlq = awaitDead(broker, 1);
    GetResponse letter = dlq.getFirst();
    assertThat(letter.getProps().getMessageId()).isEqualTo(id);
    assertThat(header(letter, Headers.DEAD_REASON)).contains("boom");
    assertThat(header(letter, Headers.DEAD_CAUSE)).isEqualTo("handler");
    assertThat(header(letter, Headers.ORIGIN_QUEUE)).isEqualTo("default");
    assertThat((List<?>) letter.getProps().getHeaders().get(Headers.HISTORY)).hasSize(3);
  }

  /**
   * A type the worker does not run is counted in /metrics as unknown: made-up types add no label.
   */
  @Test
  void madeUpTypesShareOneMetricsLabel(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    Worker w =
        broker.own(
            Worker.start(
                WorkerConfig.defaults(broker.settings()).withName("w1").withMetricsPort(0)));
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(Broker.task(broker, "{\"type\":\"made-up-" + i + "\"}"));
    }
    String noop = Broker.task(broker, "{\"type\":\"noop\"}");
    for (String id : ids) {
      events.await(id, TaskState.REJECTED);
    }
    events.await(noop, TaskState.SUCCEEDED);
    java.net.http.HttpResponse<String> metrics =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + w.metricsPort() + "/metrics"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(metrics.body())
        .contains(
            "conveyor_tasks_finished_total{cause=\"rejected\",state=\"rejected\",type=\"unknown\",worker=\"w1\"} 3.0")
        .contains("type=\"noop\"")
        .contains("jvm_memory_used_bytes", "jvm_threads_live_threads", "process_cpu_usage")
        .doesNotContain("made-up-");
  }

  /**
   * A sleep longer than nanoseconds count (about 292 years) overflowed its end and "succeeded" at
   * once; a span given as a string was read leniently ("NaN": no time at all). The first now runs
   * until its deadline ends it, the second is refused, with the reason.
   */
  @Test
  void aSleepTooLongToCountRunsUntilItIsEndedAndOneThatIsNoNumberIsRefused(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    worker(broker);
    Broker.task(
        broker,
        "default",
        "{\"type\":\"sleep\",\"payload\":{\"seconds\":1e10},\"timeoutMs\":300}",
        "ages");
    Broker.task(broker, "default", "{\"type\":\"sleep\",\"payload\":{\"seconds\":\"NaN\"}}", "nan");
    assertThat(events.await("ages", TaskState.TIMED_OUT).cause()).isEqualTo(Cause.DEADLINE);
    assertThat(events.states("ages")).doesNotContain(TaskState.SUCCEEDED);
    TaskEvent refused = events.await("nan", TaskState.REJECTED);
    assertThat(refused.reason()).contains("needs a payload {\"seconds\": N} with N a number >= 0");
    assertThat(events.states("nan")).containsExactly(TaskState.RUNNING, TaskState.REJECTED);
  }

  /**
   * A {@code timeoutMs} beyond what nanoseconds count (about 292 years) overflowed when the
   * deadline was armed: the task was reported {@code failed} ("worker error: long overflow")
   * without having run. It runs, and its deadline is never reached.
   */
  @Test
  void aTimeoutTooLongToCountIsNeverReached(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    worker(broker);
    Broker.task(
        broker,
        "default",
        "{\"type\":\"sleep\",\"payload\":{\"seconds\":0.1},\"timeoutMs\":"
            + Long.MAX_VALUE
            + ",\"graceMs\":"
            + Long.MAX_VALUE
            + "}",
        "ages");
    events.await("ages", TaskState.SUCCEEDED);
    assertThat(events.states("ages")).containsExactly(TaskState.RUNNING, TaskState.SUCCEEDED);
  }

  @Test
  void deadLettersEachKindOfBadMessageAndKeepsServing(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    worker(broker);
    Broker.raw(broker, "default", new byte[] {(byte) 0xff, 0x00, 0x13, 0x37}, "garbage");
    Broker.raw(broker, "default", "{\"type\": ".getBytes(StandardCharsets.UTF_8), "badjson");
    Broker.task(broker, "default", "{\"type\":\"no-such-type\"}", "unknown");
    // Not silently read as 1 ms: refused, with the reason.
    Broker.task(broker, "default", "{\"type\":\"noop\",\"timeoutMs\":1.5}", "fractional");
    String big = "x".repeat(2 * 1024 * 1024);
    Broker.task(
        broker, "default", "{\"type\":\"noop\",\"payload\":{\"s\":\"" + big + "\"}}", "big");
    for (String id : List.of("garbage", "badjson", "unknown", "big", "fractional")) {
      TaskEvent rejected = events.await(id, TaskState.REJECTED);
      assertThat(rejected.cause()).isEqualTo(Cause.REJECTED);
      assertThat(events.states(id)).containsExactly(TaskState.REJECTED);
    }
    assertThat(events.of("garbage").getFirst().reason()).startsWith("malformed");
    assertThat(events.of("unknown").getFirst().reason()).contains("unknown type");
    assertThat(events.of("big").getFirst().reason()).contains("too large");
    assertThat(events.of("fractional").getFirst().reason())
        .isEqualTo("malformed: timeoutMs must be a whole number (got 1.5)");
    List<GetResponse> dlq = awaitDead(broker, 5);
    assertThat(dlq)
        .extracting(r -> r.getProps().getMessageId())
        .containsExactlyInAnyOrder("garbage", "badjson", "unknown", "big", "fractional");
    assertThat(dlq).allSatisfy(r -> assertThat(header(r, Headers.DEAD_REASON)).isNotBlank());
    // The garbage survives byte for byte, so that nothing is lost.
    GetResponse garbage =
        dlq.stream().filter(r -> "garbage".equals(r.getProps().getMessageId())).findFirst().get();
    assertThat(garbage.getBody()).containsExactly((byte) 0xff, 0x00, 0x13, 0x37);
    String after = Broker.task(broker, "{\"type\":\"noop\"}");
    events.await(after, TaskState.SUCCEEDED);
  }

  @Test
  void aPublishingChannelClosedByTheBrokerIsReopenedAndNothingStaysUnacked(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    Worker w = worker(broker);
    // An operator deletes the dead-letter exchange: the worker's next dead letter is refused (404)
    // and the broker closes the channel it was published on.
    String id = "doomed-" + System.nanoTime();
    broker.withConfirms(
        ch -> {
          ch.exchangeDelete(broker.names().deadExchange());
          // Published without declaring anything, so that the exchange stays deleted.
          ch.basicPublish(
              broker.names().tasksExchange(),
              "default",
              new com.rabbitmq.client.AMQP.BasicProperties.Builder().messageId(id).build(),
              "{\"type\":\"fail\"}".getBytes(StandardCharsets.UTF_8));
          return null;
        });
    // The message is handed back, comes round again, and is dead-lettered on a reopened channel
    // that declared the exchange again.
    TaskEvent dead = events.await(id, TaskState.DEAD);
    assertThat(dead.attempt()).isEqualTo(2);
    assertThat(awaitDead(broker, 1).getFirst().getProps().getMessageId()).isEqualTo(id);
    w.close();
    assertThat(broker.messageCount(broker.names().taskQueue("default"))).isZero();
  }

  @Test
  void anExpiredTaskNeverRuns(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    worker(broker);
    String id =
        Broker.task(
            broker, "{\"type\":\"noop\",\"expiresAt\":\"" + Instant.now().minusSeconds(5) + "\"}");
    TaskEvent expired = events.await(id, TaskState.EXPIRED);
    assertThat(expired.cause()).isEqualTo(Cause.EXPIRED);
    assertThat(events.states(id)).containsExactly(TaskState.EXPIRED);
    assertThat(header(awaitDead(broker, 1).getFirst(), Headers.DEAD_CAUSE)).isEqualTo("expired");
  }

  @Test
  void runsUpToConcurrencyTasksAtOnce(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    worker(broker);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      ids.add(Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":30}}"));
    }
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> events.tasks().stream().filter(e -> e.state() == TaskState.RUNNING).count() == 4);
    assertThat(broker.messageCount(broker.names().taskQueue("default"))).isEqualTo(2);
  }

  @Test
  void heartbeatsCarryEachRunningTasksProgress(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    broker.own(
        Worker.start(
            WorkerConfig.defaults(broker.settings())
                .withName("beating")
                .withHeartbeat(Duration.ofMillis(200))
                .withShutdownGrace(Duration.ofMillis(200))));
    String id =
        Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":2,\"checkEveryMs\":50}}");
    events.await(id, TaskState.RUNNING);
    var beat =
        Awaitility.await()
            .atMost(Duration.ofSeconds(10))
            .until(
                () ->
                    events.workers().stream()
                        .filter(e -> e.state().equals(WorkerEvent.HEARTBEAT))
                        .filter(e -> e.running() != null && !e.running().isEmpty())
                        .filter(e -> e.running().getFirst().progress() != null)
                        .filter(e -> e.running().getFirst().progress() > 0)
                        .findFirst()
                        .orElse(null),
                e -> e != null);
    assertThat(beat.worker()).isEqualTo("beating");
    assertThat(beat.tasks()).containsExactly(id);
    assertThat(beat.running().getFirst().id()).isEqualTo(id);
    assertThat(beat.running().getFirst().progress()).isBetween(0.0, 1.0);
  }

  static List<GetResponse> awaitDead(TestBroker broker, int n) {
    List<GetResponse> got = new ArrayList<>();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              got.addAll(broker.drainDead());
              return got.size() >= n;
            });
    return got;
  }

  static String header(GetResponse r, String name) {
    Object v = r.getProps().getHeaders() == null ? null : r.getProps().getHeaders().get(name);
    return v == null ? null : v.toString();
  }
}
