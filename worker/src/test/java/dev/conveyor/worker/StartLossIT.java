package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.PrivateVhost;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.Worker.StartStep;
import dev.conveyor.worker.messaging.EventPublisher;
import dev.conveyor.worker.messaging.LeaseLoss;
import dev.conveyor.worker.ops.NameClaim;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A worker whose broker connection is lost in the middle of its start begins the start again once
 * the broker lets it in, as a running worker reconnects, instead of exiting. Seen in CI: workers
 * started at once on a new namespace, one of them answered INTERNAL_ERROR by the broker while the
 * quorum queue they all declare was still starting, which closed its connection; the start's next
 * step ran on the closed connection, and the worker exited 1.
 *
 * <p>Held open: the start waits at a step while the test closes its connection from the broker's
 * side, with the vhost refusing new connections so that amqp-client's recovery cannot bring it back
 * before the step runs.
 */
@ExtendWith(BrokerExtension.class)
class StartLossIT {

  @ParameterizedTest
  @EnumSource(StartStep.class)
  void aStartWhoseConnectionIsLostMidwayStartsAgainOnceTheBrokerLetsItIn(
      StartStep step, TestBroker shared) throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri());
        LogCapture starts = LogCapture.of(Worker.class);
        LogCapture publisher = LogCapture.of(EventPublisher.class)) {
      TestBroker broker = vhost.testBroker();
      String name = "midway-" + broker.namespace();
      CompletableFuture<Optional<Worker>> started =
          waitingForTheBrokerAfterLosingItAt(step, vhost, broker, name, new CountDownLatch(1));
      assertThat(starts.warnings())
          .anyMatch(
              line ->
                  line.contains("lost the broker connection while starting (CONNECTION_FORCED")
                      && line.contains("starting again"));
      // What the lost start had queued (from INTAKE on, its worker.started) did not hold up the
      // start: a close waits up to seconds for the connection to come back to send it.
      assertThat(publisher.warnings()).noneMatch(line -> line.contains("still queued at close"));

      vhost.limitConnections(-1);
      Worker worker = broker.own(started.get(30, TimeUnit.SECONDS).orElseThrow());
      assertThat(worker.name()).isEqualTo(name);
      EventLog events = broker.own(EventLog.open(broker));
      events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);
      // The lost start's connection stays closed: its recovery ended with it.
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> admin.countConnections("conveyor-worker " + name) == 1);
    }
  }

  /** A SIGTERM while the start waits for the broker ends it (the program exits 0). */
  @Test
  void aStartWaitingForTheBrokerGivesUpWhenStopped(TestBroker shared) throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri())) {
      TestBroker broker = vhost.testBroker();
      CountDownLatch stop = new CountDownLatch(1);
      CompletableFuture<Optional<Worker>> started =
          waitingForTheBrokerAfterLosingItAt(
              StartStep.INTAKE, vhost, broker, "stopped-" + broker.namespace(), stop);

      stop.countDown();

      assertThat(started.get(10, TimeUnit.SECONDS)).isEmpty();
    }
  }

  /**
   * A start that begins again may find its name still claimed: the broker keeps a lost connection,
   * and the name's exclusive queue with it, until it sees that connection end (a network loss it
   * has not noticed yet). Held open by a connection of the test's that takes the name while the
   * vhost keeps the start out: the start waits for the name, instead of refusing itself as a
   * namesake (exit 2), and takes tasks once that connection has ended.
   */
  @Test
  void aStartThatBeginsAgainWaitsForItsLostConnectionToFreeItsName(TestBroker shared)
      throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri());
        LogCapture claims = LogCapture.of(NameClaim.class)) {
      TestBroker broker = vhost.testBroker();
      String name = "held-" + broker.namespace();
      Connection lingering = broker.open("lingering " + name); // before the vhost refuses any
      CompletableFuture<Optional<Worker>> started =
          waitingForTheBrokerAfterLosingItAt(
              StartStep.INTAKE, vhost, broker, name, new CountDownLatch(1));
      NameClaimIT.holdName(lingering, broker, name);

      vhost.limitConnections(-1);
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  started.isDone()
                      || claims.warnings().stream()
                          .anyMatch(line -> line.contains("another connection holds the name")));
      assertThat(started).as("no start, nor refusal, while its name is held").isNotDone();
      lingering.close();

      Worker worker = broker.own(started.get(30, TimeUnit.SECONDS).orElseThrow());
      assertThat(worker.name()).isEqualTo(name);
      EventLog events = broker.own(EventLog.open(broker));
      events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);
    }
  }

  /**
   * Only a start that had connected begins again: a broker that refuses the first connection (here
   * a vhost that lets none in, which amqp-client reports as a closed connection) fails the start,
   * and the program exits 3.
   */
  @Test
  void aBrokerThatRefusesTheFirstConnectionFailsTheStart(TestBroker shared) throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri())) {
      TestBroker broker = vhost.testBroker();
      vhost.limitConnections(0);
      WorkerConfig config =
          WorkerConfig.defaults(broker.settings()).withName("refused-" + broker.namespace());

      assertThatThrownBy(
              () -> assertTimeoutPreemptively(Duration.ofSeconds(30), () -> Worker.start(config)))
          .isInstanceOf(BrokerUnreachableException.class)
          .hasMessageContaining("connection limit (0) is reached");
    }
  }

  /**
   * A worker's start, held at the step while its connection is closed from the broker's side and
   * the vhost refuses new ones, then let go: returned once it waits for the broker.
   */
  private static CompletableFuture<Optional<Worker>> waitingForTheBrokerAfterLosingItAt(
      StartStep step, PrivateVhost vhost, TestBroker broker, String name, CountDownLatch stop)
      throws Exception {
    CountDownLatch reached = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    WorkerConfig config =
        WorkerConfig.defaults(broker.settings())
            .withName(name)
            .withShutdownGrace(Duration.ofSeconds(2));
    Worker.StartProbe holdOnce =
        s -> {
          if (s == step && first.compareAndSet(true, false)) {
            reached.countDown();
            release.await();
          }
        };
    CompletableFuture<Optional<Worker>> started = new CompletableFuture<>();
    try (LogCapture losses = LogCapture.of(LeaseLoss.class);
        LogCapture starts = LogCapture.of(Worker.class)) {
      Thread.ofPlatform()
          .name("start-" + step)
          .start(
              () -> {
                try {
                  started.complete(Worker.start(config, stop, holdOnce));
                } catch (Throwable e) {
                  started.completeExceptionally(e);
                }
              });
      try {
        assertThat(reached.await(30, TimeUnit.SECONDS)).as("start reached " + step).isTrue();
        vhost.limitConnections(0);
        new BrokerAdmin(broker.uri()).closeConnectionsOnceListed("conveyor-worker " + name, 1);
        Awaitility.await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> mentions(losses, "lost the broker connection (CONNECTION_FORCED"));
      } finally {
        release.countDown();
      }
      Awaitility.await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> started.isDone() || mentions(starts, "waiting for the broker"));
    }
    assertThat(started).as("no start while the broker refuses it").isNotDone();
    return started;
  }

  private static boolean mentions(LogCapture log, String text) {
    return log.warnings().stream().anyMatch(line -> line.contains(text));
  }
}
