package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(BrokerExtension.class)
class DeadlineIT {

  private static WorkerConfig config(TestBroker broker, String name) {
    return WorkerConfig.defaults(broker.settings())
        .withName(name)
        .withConcurrency(2)
        .withShutdownGrace(Duration.ofMillis(500))
        .withKillGrace(Duration.ofMillis(500));
  }

  @Test
  void aTaskPastItsDeadlineIsStoppedRequeuedThenDeadLettered(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    broker.own(Worker.start(config(broker, "w1")));
    String id =
        Broker.task(
            broker,
            "{\"type\":\"sleep\",\"payload\":{\"seconds\":10},"
                + "\"timeoutMs\":1000,\"graceMs\":1000,\"maxAttempts\":2}");
    TaskEvent dead = events.await(id, TaskState.DEAD, Duration.ofSeconds(15));
    assertThat(dead.cause()).isEqualTo(Cause.DEADLINE);
    assertThat(dead.reason()).isEqualTo("timeout");
    assertThat(events.states(id))
        .containsExactly(
            TaskState.RUNNING,
            TaskState.TIMED_OUT,
            TaskState.REQUEUED,
            TaskState.RUNNING,
            TaskState.TIMED_OUT,
            TaskState.DEAD);
    List<TaskEvent> timedOut =
        events.of(id).stream().filter(e -> e.state() == TaskState.TIMED_OUT).toList();
    assertThat(timedOut).extracting(TaskEvent::attempt).containsExactly(1, 2);
    // Cooperative: the stop at 1 s ends it, long before the kill at 2 s.
    assertThat(timedOut).allSatisfy(e -> assertThat(e.durationMs()).isBetween(1000L, 1900L));
    GetResponse letter = WorkerIT.awaitDead(broker, 1).getFirst();
    assertThat(WorkerIT.header(letter, Headers.DEAD_REASON)).isEqualTo("timeout");
    assertThat(WorkerIT.header(letter, Headers.DEAD_CAUSE)).isEqualTo("deadline");
    assertThat((List<?>) letter.getProps().getHeaders().get(Headers.HISTORY)).hasSize(2);
  }

  @Test
  void aTaskThatSurvivesItsKillEndsItsWorkerWith70UntilItIsDeadLettered(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    String id =
        Broker.task(
            broker,
            "{\"type\":\"spin\",\"payload\":{\"seconds\":60},"
                + "\"timeoutMs\":1000,\"graceMs\":1000,\"maxAttempts\":2}");
    for (int attempt = 1; attempt <= 2; attempt++) {
      CompletableFuture<Integer> exit = new CompletableFuture<>();
      long started = System.nanoTime();
      broker.own(Worker.start(config(broker, "w" + attempt).withExit(exit::complete)));
      assertThat(exit.get(15, TimeUnit.SECONDS)).isEqualTo(ExitCodes.STUCK_TASK);
      // deadline 1 s + grace 1 s + kill grace 0.5 s, plus scheduling
      assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
    }
    TaskEvent dead = events.await(id, TaskState.DEAD);
    assertThat(dead.cause()).isEqualTo(Cause.DEADLINE);
    assertThat(events.states(id))
        .containsExactly(
            TaskState.RUNNING,
            TaskState.TIMED_OUT,
            TaskState.REQUEUED,
            TaskState.RUNNING,
            TaskState.TIMED_OUT,
            TaskState.DEAD);
  }

  @Test
  void theWorkerDefaultTimeoutAppliesToTasksWithoutOne(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    broker.own(
        Worker.start(
            config(broker, "w1")
                .withDefaultTimeout(Optional.of(Duration.ofMillis(300)))
                .withDefaultGrace(Duration.ofMillis(300))));
    String id = Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":30}}");
    TaskEvent dead = events.await(id, TaskState.DEAD);
    assertThat(dead.cause()).isEqualTo(Cause.DEADLINE);
  }

  @Test
  void anExecTaskPastItsDeadlineGetsSigtermFirst(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    broker.own(Worker.start(config(broker, "w1").withExecAllow(List.of(Path.of("/bin/sleep")))));
    String id =
        Broker.task(
            broker,
            "{\"type\":\"exec\",\"payload\":{\"command\":[\"/bin/sleep\",\"600\"]},"
                + "\"timeoutMs\":500,\"graceMs\":5000}");
    TaskEvent timedOut = events.await(id, TaskState.TIMED_OUT);
    assertThat(timedOut.durationMs()).isLessThan(2000L);
    events.await(id, TaskState.DEAD);
  }

  @Test
  void aRetryDelayHoldsTheNextAttemptBackWithoutHoldingAWorkerSlot(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    broker.own(
        Worker.start(
            config(broker, "w1").withConcurrency(1).withRetryDelay(Duration.ofSeconds(1))));
    String failing = Broker.task(broker, "{\"type\":\"fail\",\"maxAttempts\":2}");
    TaskEvent firstFailure = events.await(failing, TaskState.REQUEUED);
    // The only slot is free while the retry waits.
    String other = Broker.task(broker, "{\"type\":\"noop\"}");
    TaskEvent otherDone = events.await(other, TaskState.SUCCEEDED);
    TaskEvent dead = events.await(failing, TaskState.DEAD);
    assertThat(otherDone.at()).isBefore(dead.at());
    TaskEvent secondRun =
        events.of(failing).stream()
            .filter(e -> e.state() == TaskState.RUNNING && e.attempt() == 2)
            .findFirst()
            .orElseThrow();
    assertThat(Duration.between(firstFailure.at(), secondRun.at()))
        .isGreaterThanOrEqualTo(Duration.ofMillis(900));
  }
}
