package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code worker --events}: what each level still lets a producer and a watcher see. */
@ExtendWith(BrokerExtension.class)
class EventLevelsIT {

  private static void awaitStarted(EventLog events, String worker) {
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                events.workers().stream()
                    .anyMatch(
                        e -> e.worker().equals(worker) && e.state().equals(WorkerEvent.STARTED)));
  }

  @Test
  void finalStillLetsProducerWaitFinishWithoutRunningEvents(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    ProgramProcess worker = Programs.worker(broker, "w-final", "--events", "final");
    awaitStarted(events, "w-final");

    Programs.Result publish =
        Programs.run(broker, "producer", "publish", "--type", "noop", "--count", "200", "--wait");

    assertThat(publish.exitCode()).as(publish.output()).isZero();
    assertThat(publish.lines())
        .anyMatch(l -> l.matches("producer: waited 200 tasks: 200 succeeded \\(.+ s\\)"));
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                events.tasks().stream().filter(e -> e.state() == TaskState.SUCCEEDED).count()
                    == 200);
    assertThat(events.tasks()).noneMatch(e -> e.state() == TaskState.RUNNING);
    worker.terminate();
    assertThat(worker.waitFor(Duration.ofSeconds(30))).as(worker.output()).isZero();
  }

  @Test
  void noneSendsNoTaskEventsSoProducerWaitTimesOut(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    ProgramProcess worker = Programs.worker(broker, "w-none", "--events", "none");
    awaitStarted(events, "w-none");

    Programs.Result publish =
        Programs.run(
            broker,
            "producer",
            "publish",
            "--type",
            "noop",
            "--count",
            "20",
            "--wait",
            "--wait-timeout",
            "3s");

    assertThat(publish.exitCode()).as(publish.output()).isEqualTo(1);
    // The tasks ran all the same: with the worker gone, nothing is back in the queue.
    worker.terminate();
    assertThat(worker.waitFor(Duration.ofSeconds(30))).as(worker.output()).isZero();
    assertThat(broker.messageCount(broker.names().taskQueue("default"))).isZero();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                events.workers().stream()
                    .anyMatch(
                        e ->
                            e.worker().equals("w-none") && e.state().equals(WorkerEvent.STOPPING)));
    assertThat(events.tasks()).isEmpty();
  }
}
