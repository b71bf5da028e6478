package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.impl.ForgivingExceptionHandler;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.Duplicates;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.PrivateVhost;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.control.ControlListener;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(BrokerExtension.class)
class ControlIT {

  private static final String SLEEP_30 = "{\"type\":\"sleep\",\"payload\":{\"seconds\":30}}";

  private static WorkerConfig config(TestBroker broker, String name) {
    return WorkerConfig.defaults(broker.settings())
        .withName(name)
        .withConcurrency(4)
        .withShutdownGrace(Duration.ofMillis(500))
        .withKillGrace(Duration.ofMillis(500));
  }

  private static Worker start(TestBroker broker, WorkerConfig config) throws Exception {
    return broker.own(Worker.start(config));
  }

  private static List<String> publish(TestBroker broker, int n, String json) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ids.add(Broker.task(broker, json));
    }
    return ids;
  }

  private static void awaitRunning(EventLog events, List<String> ids) {
    ids.forEach(id -> events.await(id, TaskState.RUNNING));
  }

  @Test
  void stopAllCancelsEveryRunningTaskAndTheWorkersKeepServing(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    start(broker, config(broker, "w1").withConcurrency(2));
    start(broker, config(broker, "w2").withConcurrency(2));
    List<String> ids = publish(broker, 4, SLEEP_30);
    awaitRunning(events, ids);
    ControlMessage stop = Broker.command(Command.STOP, Target.all(), false);
    long sent = System.nanoTime();
    Broker.control(broker, stop);
    for (String id : ids) {
      TaskEvent e = events.await(id, TaskState.CANCELLED, Duration.ofSeconds(5));
      assertThat(e.cause()).isEqualTo(Cause.USER_STOP);
      assertThat(e.issuedBy()).isEqualTo("test@host");
    }
    assertThat(Duration.ofNanos(System.nanoTime() - sent)).isLessThan(Duration.ofSeconds(5));
    Awaitility.await().until(() -> events.applied(stop.id()).size() == 2);
    assertThat(events.applied(stop.id()))
        .extracting(CommandApplied::worker)
        .containsExactlyInAnyOrder("w1", "w2");
    List<String> next = publish(broker, 4, "{\"type\":\"noop\"}");
    next.forEach(id -> events.await(id, TaskState.SUCCEEDED));
  }

  @Test
  void stopTargetsOneTaskOneTypeOrOneWorker(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    start(broker, config(broker, "w1").withConcurrency(3));
    List<String> ids = publish(broker, 3, SLEEP_30);
    awaitRunning(events, ids);

    Broker.control(
        broker, Broker.command(Command.STOP, new Target.Tasks(List.of(ids.get(0))), false));
    events.await(ids.get(0), TaskState.CANCELLED);

    ControlMessage otherWorker =
        Broker.command(Command.STOP, new Target.Workers(List.of("nobody")), false);
    Broker.control(broker, otherWorker);
    ControlMessage otherType =
        Broker.command(Command.STOP, new Target.Types(List.of("noop")), false);
    Broker.control(broker, otherType);
    CommandApplied typeApplied =
        Awaitility.await()
            .until(() -> events.applied(otherType.id()), l -> !l.isEmpty())
            .getFirst();
    assertThat(typeApplied.matchedNothing()).isTrue();
    // A command addressed to another worker gets no answer from this one.
    assertThat(events.applied(otherWorker.id())).isEmpty();
    assertThat(events.states(ids.get(1))).containsExactly(TaskState.RUNNING);

    Broker.control(broker, Broker.command(Command.STOP, new Target.Types(List.of("sleep")), false));
    events.await(ids.get(1), TaskState.CANCELLED);

    Broker.control(broker, Broker.command(Command.STOP, new Target.Workers(List.of("w1")), false));
    events.await(ids.get(2), TaskState.CANCELLED);
  }

  @Test
  void stopWithRequeueGivesTheTaskBackWithoutUsingAnAttempt(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    start(broker, config(broker, "w1"));
    String id =
        Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":30},\"maxAttempts\":1}");
    events.await(id, TaskState.RUNNING);
    Broker.control(broker, Broker.command(Command.STOP, new Target.Tasks(List.of(id)), true));
    TaskEvent requeued = events.await(id, TaskState.REQUEUED);
    assertThat(requeued.cause()).isEqualTo(Cause.USER_STOP);
    Awaitility.await()
        .until(() -> events.states(id).stream().filter(s -> s == TaskState.RUNNING).count() == 2);
    assertThat(events.of(id).getLast().attempt()).isEqualTo(1);
    Broker.control(broker, Broker.command(Command.KILL, new Target.Tasks(List.of(id)), false));
    assertThat(events.await(id, TaskState.CANCELLED).cause()).isEqualTo(Cause.USER_KILL);
  }

  @Test
  void killEndsAnExecProcessTreeAndReapsIt(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    start(broker, config(broker, "w1").withExecAllow(List.of(Path.of("/bin/sh"))));
    String marker = "conveyor-kill-test-" + System.nanoTime();
    String id =
        Broker.task(
            broker,
            "{\"type\":\"exec\",\"payload\":{\"command\":[\"/bin/sh\",\"-c\",\"sleep 600 & sleep 600; wait\",\""
                + marker
                + "\"]}}");
    events.await(id, TaskState.RUNNING);
    List<ProcessHandle> tree =
        Awaitility.await().until(() -> treeOf(marker), t -> t.size() >= 3); // sh + two sleeps
    Broker.control(broker, Broker.command(Command.KILL, new Target.Tasks(List.of(id)), false));
    TaskEvent cancelled = events.await(id, TaskState.CANCELLED, Duration.ofSeconds(5));
    assertThat(cancelled.cause()).isEqualTo(Cause.USER_KILL);
    // By the time the task is reported, every process of its tree is gone: no zombie, no orphan.
    for (ProcessHandle p : tree) {
      Path proc = Path.of("/proc/" + p.pid());
      assertThat(Files.exists(proc))
          .as(
              "process %d gone, stat: %s",
              p.pid(), Files.exists(proc) ? Files.readString(proc.resolve("stat")) : "")
          .isFalse();
    }
  }

  @Test
  void stopAsksAnExecChildToEndWithSigterm(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    start(broker, config(broker, "w1").withExecAllow(List.of(Path.of("/bin/sh"))));
    String marker = "conveyor-stop-test-" + System.nanoTime();
    // The child reports SIGTERM by its exit code and leaves a trace of it.
    String id =
        Broker.task(
            broker,
            "{\"type\":\"exec\",\"payload\":{\"command\":[\"/bin/sh\",\"-c\",\"trap 'echo got TERM; exit 0' TERM; while :; do sleep 0.05; done\",\""
                + marker
                + "\"]}}");
    events.await(id, TaskState.RUNNING);
    List<ProcessHandle> tree = Awaitility.await().until(() -> treeOf(marker), t -> !t.isEmpty());
    Broker.control(broker, Broker.command(Command.STOP, new Target.Tasks(List.of(id)), false));
    TaskEvent cancelled = events.await(id, TaskState.CANCELLED, Duration.ofSeconds(5));
    assertThat(cancelled.cause()).isEqualTo(Cause.USER_STOP);
    assertThat(cancelled.reason()).isNull();
    assertThat(tree.getFirst().isAlive()).isFalse();
  }

  /** The shell started for the marker and everything below it. */
  private static List<ProcessHandle> treeOf(String marker) {
    List<ProcessHandle> out = new ArrayList<>();
    ProcessHandle.current()
        .descendants()
        .filter(p -> p.info().arguments().map(a -> List.of(a).contains(marker)).orElse(false))
        .forEach(
            sh -> {
              out.add(sh);
              sh.descendants().forEach(out::add);
            });
    return out;
  }

  @Test
  void killOfATaskThatIgnoresItEndsTheWorkerWith70AfterSettlingTheRest(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    Worker w1 = start(broker, config(broker, "w1").withConcurrency(2).withExit(exit::complete));
    String spin = Broker.task(broker, "{\"type\":\"spin\",\"payload\":{\"seconds\":60}}");
    String other = Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":1}}");
    events.await(spin, TaskState.RUNNING);
    events.await(other, TaskState.RUNNING);
    Broker.control(broker, Broker.command(Command.KILL, new Target.Tasks(List.of(spin)), false));
    assertThat(exit.get(10, TimeUnit.SECONDS)).isEqualTo(ExitCodes.STUCK_TASK);
    assertThat(events.await(spin, TaskState.CANCELLED).cause()).isEqualTo(Cause.USER_KILL);
    assertThat(events.await(other, TaskState.REQUEUED).cause()).isEqualTo(Cause.SHUTDOWN);
    Awaitility.await()
        .until(
            () ->
                events.workers().stream().anyMatch(e -> e.state().equals(WorkerEvent.TERMINATING)));
    assertThat(w1.exitCode()).isEqualTo(ExitCodes.STUCK_TASK);
    // Another worker completes what the terminated one handed back.
    start(broker, config(broker, "w2"));
    events.await(other, TaskState.SUCCEEDED);
    assertThat(events.states(spin)).doesNotContain(TaskState.SUCCEEDED);
  }

  @Test
  void aStopForAQueuedTaskIsHonouredByAWorkerStartedLater(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    // No worker yet: the command is only in the control log.
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          broker.topology().declareControlLog(ch);
          return null;
        });
    String id = "queued-" + System.nanoTime();
    Broker.control(broker, Broker.command(Command.STOP, new Target.Tasks(List.of(id)), false));
    Broker.task(broker, "default", "{\"type\":\"noop\"}", id);
    start(broker, config(broker, "late"));
    TaskEvent cancelled = events.await(id, TaskState.CANCELLED);
    assertThat(cancelled.cause()).isEqualTo(Cause.REVOKED);
    assertThat(cancelled.issuedBy()).isEqualTo("test@host");
    assertThat(events.states(id)).containsExactly(TaskState.CANCELLED);
  }

  @Test
  void pauseStopsTakingTasksAndResumeStartsAgain(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    Worker w = start(broker, config(broker, "w1"));
    ControlMessage pause = Broker.command(Command.PAUSE, Target.all(), false);
    Broker.control(broker, pause);
    CommandApplied applied =
        Awaitility.await().until(() -> events.applied(pause.id()), l -> !l.isEmpty()).getFirst();
    assertThat(applied.paused()).isTrue();
    assertThat(w.status().paused()).isTrue();
    String queue = broker.names().taskQueue("default");
    assertThat(broker.consumerCount(queue)).isZero();
    String id = Broker.task(broker, "{\"type\":\"noop\"}");
    assertThat(broker.messageCount(queue)).isEqualTo(1);
    Broker.control(
        broker, Broker.command(Command.RESUME, new Target.Workers(List.of("w1")), false));
    events.await(id, TaskState.SUCCEEDED);
    assertThat(w.status().paused()).isFalse();
  }

  @Test
  void statusAnswersByDirectReplyToWithRunningTasks(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    start(broker, config(broker, "w1"));
    String id =
        Broker.task(
            broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":30},\"timeoutMs\":60000}");
    events.await(id, TaskState.RUNNING);
    Channel ch = broker.connection().createChannel();
    CompletableFuture<WorkerStatus> reply = new CompletableFuture<>();
    ch.basicConsume(
        "amq.rabbitmq.reply-to",
        true,
        new DefaultConsumer(ch) {
          @Override
          public void handleDelivery(String t, Envelope e, AMQP.BasicProperties p, byte[] body) {
            try {
              reply.complete(Wire.decode(body, WorkerStatus.class));
            } catch (Exception ex) {
              reply.completeExceptionally(ex);
            }
          }
        });
    ControlMessage status = Broker.command(Command.STATUS, Target.all(), false);
    ch.basicPublish(
        broker.names().controlExchange(),
        "",
        new AMQP.BasicProperties.Builder()
            .replyTo("amq.rabbitmq.reply-to")
            .correlationId(status.id())
            .build(),
        Wire.encode(status));
    WorkerStatus s = reply.get(5, TimeUnit.SECONDS);
    ch.close();
    assertThat(s.worker()).isEqualTo("w1");
    assertThat(s.pid()).isEqualTo(ProcessHandle.current().pid());
    assertThat(s.queues()).containsExactly("default");
    assertThat(s.tasks())
        .singleElement()
        .satisfies(
            t -> {
              assertThat(t.id()).isEqualTo(id);
              assertThat(t.type()).isEqualTo("sleep");
              assertThat(t.attempt()).isEqualTo(1);
              assertThat(t.stage()).isEqualTo("running");
              assertThat(t.deadline()).isAfter(Instant.now().plusSeconds(50));
            });
  }

  @Test
  void malformedAndUnknownCommandsAreDroppedAndTheWorkerKeepsServing(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    start(broker, config(broker, "w1"));
    String id = Broker.task(broker, SLEEP_30);
    events.await(id, TaskState.RUNNING);
    Broker.controlRaw(broker, new byte[] {1, 2, 3}, Map.of());
    Broker.controlRaw(
        broker,
        "{\"id\":\"x\",\"command\":\"explode\",\"target\":{\"all\":true}}"
            .getBytes(StandardCharsets.UTF_8),
        Map.of());
    Broker.controlRaw(
        broker,
        "{\"id\":\"y\",\"command\":\"stop\",\"target\":{\"everyone\":true}}"
            .getBytes(StandardCharsets.UTF_8),
        Map.of());
    Broker.controlRaw(
        broker, "{\"id\":\"z\",\"command\":\"stop\"}".getBytes(StandardCharsets.UTF_8), Map.of());
    ControlMessage stop = Broker.command(Command.STOP, Target.all(), false);
    Broker.control(broker, stop);
    events.await(id, TaskState.CANCELLED);
    assertThat(events.applied("x")).isEmpty();
    assertThat(events.applied("y")).isEmpty();
    assertThat(events.applied("z")).isEmpty();
    events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);
  }

  @Test
  void withAControlKeyOnlySignedFreshCommandsAreObeyed(TestBroker broker, @TempDir Path dir)
      throws Exception {
    Path key = Files.writeString(dir.resolve("control.key"), "s3cret\n");
    EventLog events = EventLog.open(broker);
    var settings = broker.settings();
    var keyed =
        new dev.conveyor.protocol.broker.BrokerSettings(
            settings.uris(), settings.namespace(), Optional.of(key));
    start(broker, config(broker, "w1").withBroker(keyed));
    String id = Broker.task(broker, SLEEP_30);
    events.await(id, TaskState.RUNNING);
    ControlSigner signer = ControlSigner.fromFile(key);

    ControlMessage unsigned = Broker.command(Command.STOP, Target.all(), false);
    Broker.control(broker, unsigned);
    ControlMessage forged = Broker.command(Command.STOP, Target.all(), false);
    byte[] forgedBody = Wire.encode(forged);
    Broker.controlRaw(
        broker,
        forgedBody,
        Map.of(Headers.SIGNATURE, new ControlSigner("wrong".getBytes()).sign(forgedBody)));
    ControlMessage stale =
        new ControlMessage(
            "stale",
            Command.STOP,
            Target.all(),
            false,
            Instant.now().minusSeconds(120),
            "old@host");
    byte[] staleBody = Wire.encode(stale);
    Broker.controlRaw(broker, staleBody, Map.of(Headers.SIGNATURE, signer.sign(staleBody)));

    ControlMessage good = Broker.command(Command.STOP, Target.all(), false);
    byte[] goodBody = Wire.encode(good);
    Broker.controlRaw(broker, goodBody, Map.of(Headers.SIGNATURE, signer.sign(goodBody)));
    events.await(id, TaskState.CANCELLED);
    Awaitility.await().until(() -> !events.applied(good.id()).isEmpty());
    assertThat(events.applied(unsigned.id())).isEmpty();
    assertThat(events.applied(forged.id())).isEmpty();
    assertThat(events.applied("stale")).isEmpty();
    // Each refusal is answered, so that the sender learns why.
    Awaitility.await().until(() -> !events.refused("stale").isEmpty());
    assertThat(events.refused(unsigned.id()))
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.reason()).isEqualTo("unsigned");
              assertThat(r.worker()).isEqualTo("w1");
              assertThat(r.verb()).isEqualTo(Command.STOP);
            });
    assertThat(events.refused(forged.id()))
        .singleElement()
        .satisfies(r -> assertThat(r.reason()).isEqualTo("bad signature"));
    assertThat(events.refused("stale"))
        .singleElement()
        .satisfies(r -> assertThat(r.reason()).startsWith("stale (issued 1"));
    assertThat(events.refused(good.id())).isEmpty();
  }

  @Test
  void aWorkerThatLosesItsConnectionStopsItsTasksReconnectsAndResumes(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    start(broker, config(broker, "lossy-" + broker.namespace()));
    // maxAttempts 1 (the default): a requeue for a lost connection must not use it up.
    String id = Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":30}}");
    events.await(id, TaskState.RUNNING);
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed("conveyor-worker lossy-" + broker.namespace(), 1);
    // The broker redelivers the task to the reconnected worker, which runs it again: still attempt
    // 1, as the worker knows it lost that delivery with its connection.
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> events.of(id).stream().filter(e -> e.state() == TaskState.RUNNING).count() == 2);
    assertThat(events.of(id))
        .filteredOn(e -> e.state() == TaskState.RUNNING)
        .allMatch(e -> e.attempt() == 1);
    assertThat(events.of(id)).noneMatch(e -> e.state() == TaskState.DEAD);
    // The outcome of the lost attempt, held until the connection was back: sent before the second
    // running event, on the same channel.
    assertThat(events.of(id))
        .anyMatch(
            e ->
                e.state() == TaskState.REQUEUED
                    && e.cause() == Cause.CONNECTION_LOST
                    && e.attempt() == 1);
    Broker.control(broker, Broker.command(Command.STOP, Target.all(), false));
    events.await(id, TaskState.CANCELLED);
    events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);
    Duplicates d = events.duplicates("the broker closes a worker's connection", List.of(id));
    assertThat(d.reruns())
        .extracting(Duplicates.Rerun::why)
        .as("no task runs again after it finished")
        .doesNotContain(Duplicates.Why.FINISHED_SAME_WORKER, Duplicates.Why.FINISHED_OTHER_WORKER);
    assertThat(d.succeededTwice()).isEmpty();
  }

  @Test
  void aTaskLostWithOneWorkersConnectionRunsOnAnotherWithoutUsingAnAttempt(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    String lossy = "lossy-a-" + broker.namespace();
    start(broker, config(broker, lossy));
    // maxAttempts 1 (the default): the redelivery the other worker gets is past it.
    String id = Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":30}}");
    events.await(id, TaskState.RUNNING);
    start(broker, config(broker, "steady-b"));
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed("conveyor-worker " + lossy, 1);

    // The broker redelivers the task at once to the other worker, which holds it until the first
    // worker, reconnected, says it lost that delivery with its connection; then it runs there as
    // attempt 1 instead of being dead-lettered as worker-lost.
    TaskEvent again =
        Awaitility.await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    events.of(id).stream()
                        .filter(
                            e -> e.state() == TaskState.RUNNING && e.worker().equals("steady-b"))
                        .findFirst()
                        .orElse(null),
                e -> e != null);
    assertThat(again.attempt()).isEqualTo(1);
    assertThat(events.of(id))
        .anyMatch(
            e ->
                e.state() == TaskState.REQUEUED
                    && e.cause() == Cause.CONNECTION_LOST
                    && e.worker().equals(lossy));
    assertThat(events.of(id)).noneMatch(e -> e.state() == TaskState.DEAD);
    Broker.control(broker, Broker.command(Command.STOP, Target.all(), false));
    events.await(id, TaskState.CANCELLED);
    Duplicates d =
        events.duplicates("the broker closes one of two workers' connections", List.of(id));
    assertThat(d.reruns())
        .extracting(Duplicates.Rerun::why)
        .as("no task runs again after it finished")
        .doesNotContain(Duplicates.Why.FINISHED_SAME_WORKER, Duplicates.Why.FINISHED_OTHER_WORKER);
    assertThat(d.succeededTwice()).isEmpty();
  }

  @Test
  void whenEveryWorkerLosesItsConnectionAtOnceNoTaskUsesUpAnAttempt(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    String prefix = "cut-" + broker.namespace();
    start(broker, config(broker, prefix + "-a").withConcurrency(1));
    start(broker, config(broker, prefix + "-b").withConcurrency(1));
    List<String> ids = publish(broker, 2, "{\"type\":\"sleep\",\"payload\":{\"seconds\":30}}");
    ids.forEach(id -> events.await(id, TaskState.RUNNING));
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed("conveyor-worker " + prefix, 2);

    // Each task comes back to either worker, maxAttempts 1 (the default) notwithstanding: a worker
    // that gets the other's task holds it until the other, reconnected, says it lost it; that word
    // waits in a queue that outlived the receiving worker's own connection.
    for (String id : ids) {
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  events.of(id).stream().filter(e -> e.state() == TaskState.RUNNING).count() == 2);
      assertThat(events.of(id))
          .filteredOn(e -> e.state() == TaskState.RUNNING)
          .allMatch(e -> e.attempt() == 1);
      assertThat(events.of(id)).noneMatch(e -> e.state() == TaskState.DEAD);
    }
    Broker.control(broker, Broker.command(Command.STOP, Target.all(), false));
    ids.forEach(id -> events.await(id, TaskState.CANCELLED));
    Duplicates d = events.duplicates("the broker closes every worker's connection at once", ids);
    assertThat(d.reruns())
        .extracting(Duplicates.Rerun::why)
        .as("no task runs again after it finished")
        .doesNotContain(Duplicates.Why.FINISHED_SAME_WORKER, Duplicates.Why.FINISHED_OTHER_WORKER);
    assertThat(d.succeededTwice()).isEmpty();
  }

  @Test
  void aDeliveryNoWorkerSawIsNotCountedWhenAWorkerLostItsConnectionMeanwhile(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    // A worker of another queue, whose connection the broker closes at the same moment.
    String lossy = "lossy-c-" + broker.namespace();
    broker.useQueue("other"); // deleted with the namespace
    start(broker, config(broker, lossy).withQueues(List.of("other")));
    // The task's delivery is held by a channel that never passed it on, as a worker's channel
    // holds the deliveries the broker had checked out to it but not yet written to its socket
    // when the connection was closed: the broker counts them returned, and no worker ever saw
    // them, so none can say it lost them.
    String id = Broker.task(broker, "{\"type\":\"noop\"}");
    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(broker.uri());
    if (broker.uri().getRawPath() == null || broker.uri().getRawPath().length() <= 1) {
      factory.setVirtualHost("/");
    }
    factory.setAutomaticRecoveryEnabled(false);
    String holderName = "holder-" + broker.namespace();
    Connection holder = factory.newConnection(holderName);
    try {
      Channel ch = holder.createChannel();
      ch.basicQos(1);
      CountDownLatch delivered = new CountDownLatch(1);
      ch.basicConsume(
          broker.names().taskQueue("default"),
          false,
          new DefaultConsumer(ch) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
              delivered.countDown();
            }
          });
      assertThat(delivered.await(20, TimeUnit.SECONDS)).as("the holder got the task").isTrue();
      start(broker, config(broker, "steady-b"));
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> admin.countConnections(holderName) == 1);
      admin.closeConnectionsOnceListed("conveyor-worker " + lossy, 1);
      assertThat(admin.closeConnections(holderName)).isEqualTo(1);
    } finally {
      holder.abort();
    }

    // Delivered again with x-delivery-count 1, past maxAttempts 1: the worker holds it, and the
    // other worker's word that it lost its connection lets it run as attempt 1 instead of being
    // dead-lettered as worker-lost.
    TaskEvent last =
        Awaitility.await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    events.of(id).stream()
                        .filter(e -> e.state().isFinal())
                        .findFirst()
                        .orElse(null),
                e -> e != null);
    assertThat(last.state()).as(events.of(id).toString()).isEqualTo(TaskState.SUCCEEDED);
    assertThat(last.attempt()).isEqualTo(1);
    assertThat(last.worker()).isEqualTo("steady-b");
  }

  /**
   * The worker is counted on {@code ns.workers} through a channel of its own: when that queue goes
   * and cannot be declared again (here the vhost allows no new queue), the failed declaration
   * closes that channel only, and the worker, no longer counted, still obeys commands. It tries
   * again, and is counted once the broker lets it declare the queue.
   */
  @Test
  void aWorkerThatCannotBeCountedStillObeysCommandsAndIsCountedOnceItCanBe(TestBroker shared)
      throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri());
        LogCapture log = LogCapture.of(ControlListener.class)) {
      TestBroker broker = vhost.testBroker();
      EventLog events = broker.own(EventLog.open(broker));
      String task = oneRunningTask(broker, events);
      assertThat(broker.consumerCount(broker.names().workers())).isEqualTo(1);

      vhost.limitQueues(0);
      broker.withChannel(ch -> ch.queueDelete(broker.names().workers()));
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  log.warnings().stream()
                      .anyMatch(
                          w ->
                              w.contains(broker.names().workers())
                                  && w.contains("could not be consumed (")));

      Broker.control(broker, Broker.command(Command.STOP, new Target.Tasks(List.of(task)), false));
      assertThat(events.await(task, TaskState.CANCELLED, Duration.ofSeconds(10)).cause())
          .isEqualTo(Cause.USER_STOP);

      vhost.limitQueues(-1); // no limit
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> broker.consumerCountOrMissing(broker.names().workers()) == 1);
    }
  }

  /**
   * The broker drops the bindings of a deleted exchange without a word to anyone: a control
   * exchange deleted under a worker, whether declared again at once (as the next {@code control}
   * command does) or left missing, must not leave the worker deaf. And after a reconnection it has
   * one control queue, declared again without an error.
   */
  @Test
  void aWorkerWhoseControlExchangeWasDeletedHearsCommandsAgain(TestBroker broker) throws Exception {
    try (LogCapture recovery = LogCapture.of(ForgivingExceptionHandler.class)) {
      EventLog events = broker.own(EventLog.open(broker));
      String name = "deaf-" + broker.namespace();
      start(broker, config(broker, name).withConcurrency(1));
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      String control = broker.names().controlExchange();
      assertThat(admin.queuesBoundTo(control)).hasSize(1);

      // Declared again at once: the worker's queue is bound again.
      String first = publish(broker, 1, SLEEP_30).getFirst();
      events.await(first, TaskState.RUNNING);
      admin.deleteExchange(control);
      broker.withChannel(
          ch -> {
            broker.topology().declareCore(ch);
            return null;
          });
      stopAllOnceBound(broker, admin, first, events);

      // Left missing: the worker declares it.
      String second = publish(broker, 1, SLEEP_30).getFirst();
      events.await(second, TaskState.RUNNING);
      admin.deleteExchange(control);
      stopAllOnceBound(broker, admin, second, events);

      admin.closeConnectionsOnceListed("conveyor-worker " + name, 1);
      events.awaitWorker(name, WorkerEvent.RECONNECTED);
      assertThat(admin.queuesBoundTo(control))
          .as("control queues after the reconnection")
          .hasSize(1);
      assertThat(recovery.warnings()).filteredOn(w -> w.contains(broker.namespace())).isEmpty();
    }
  }

  /**
   * A worker that cannot listen again at once (here its queue of commands was deleted, and
   * declaring it again is over the vhost's queue limit) says so once, tries again every few
   * seconds, and hears commands once it can.
   */
  @Test
  void aWorkerThatCannotListenAgainTriesUntilItCan(TestBroker shared) throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri());
        LogCapture log = LogCapture.of(ControlListener.class)) {
      TestBroker broker = vhost.testBroker();
      EventLog events = broker.own(EventLog.open(broker));
      String task = oneRunningTask(broker, events);
      BrokerAdmin admin = new BrokerAdmin(broker.uri());

      vhost.limitQueues(0);
      broker.withChannel(ch -> ch.queueDelete(broker.names().commandsFor("w1")));
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> log.warnings().stream().anyMatch(w -> w.contains("cannot listen again")));

      vhost.limitQueues(-1); // no limit
      stopAllOnceBound(broker, admin, task, events);
      assertThat(log.warnings()).filteredOn(w -> w.contains("cannot listen again")).hasSize(1);
    }
  }

  /** Starts a worker {@code w1} of one thread, and returns the 30 s sleep it runs. */
  private static String oneRunningTask(TestBroker broker, EventLog events) throws Exception {
    start(broker, config(broker, "w1").withConcurrency(1));
    String task = publish(broker, 1, SLEEP_30).getFirst();
    events.await(task, TaskState.RUNNING);
    return task;
  }

  private static void stopAllOnceBound(
      TestBroker broker, BrokerAdmin admin, String task, EventLog events) throws Exception {
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions() // the exchange missing
        .until(() -> admin.queuesBoundTo(broker.names().controlExchange()).size() == 1);
    Broker.control(broker, Broker.command(Command.STOP, Target.all(), false));
    assertThat(events.await(task, TaskState.CANCELLED, Duration.ofSeconds(10)).cause())
        .isEqualTo(Cause.USER_STOP);
  }

  /**
   * amqp-client's recovery declares everything again on the channel that declared it: none of the
   * worker's declarations may have been made on a channel closed since, or each reconnection logs
   * an error for it (the control log's, declared while the worker read it at start, did).
   */
  @Test
  void aWorkerThatReconnectsDeclaresItsTopologyAgainWithoutAnError(TestBroker broker)
      throws Exception {
    try (LogCapture recovery = LogCapture.of(ForgivingExceptionHandler.class)) {
      EventLog events = broker.own(EventLog.open(broker));
      String name = "lossy-" + broker.namespace();
      start(broker, config(broker, name));
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      admin.closeConnectionsOnceListed("conveyor-worker " + name, 1);
      // Announced once amqp-client has recovered the connection, its channels and its topology.
      events.awaitWorker(name, WorkerEvent.RECONNECTED);

      assertThat(recovery.warnings()).filteredOn(w -> w.contains(broker.namespace())).isEmpty();
    }
  }
}
