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

/** The README's quickstart, as processes: two workers, a thousand tasks, nothing left behind. */
@ExtendWith(BrokerExtension.class)
class QuickstartIT {

  @Test
  void twoWorkersRunAThousandPublishedTasksAndLeaveNothingBehind(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    ProgramProcess w1 = Programs.worker(broker, "w1");
    ProgramProcess w2 = Programs.worker(broker, "w2");
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                events.workers().stream().filter(e -> e.state().equals(WorkerEvent.STARTED)).count()
                    == 2);

    Programs.Result publish =
        Programs.run(broker, "producer", "publish", "--type", "noop", "--count", "1000", "--wait");

    assertThat(publish.exitCode()).as(publish.output()).isZero();
    assertThat(publish.lines().stream().filter(l -> l.endsWith(" succeeded")).count())
        .as(publish.output())
        .isEqualTo(1000);
    assertThat(publish.lines())
        .anyMatch(l -> l.matches("producer: waited 1000 tasks: 1000 succeeded \\(.+ s\\)"));
    // The test's own subscription is another queue: it may still be catching up.
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                events.tasks().stream().filter(e -> e.state() == TaskState.SUCCEEDED).count()
                    == 1000);
    assertThat(
            events.tasks().stream()
                .filter(e -> e.state() == TaskState.SUCCEEDED)
                .map(e -> e.worker())
                .distinct())
        .containsExactlyInAnyOrder("w1", "w2");

    w1.terminate();
    w2.terminate();
    assertThat(w1.waitFor(Duration.ofSeconds(30))).as(w1.output()).isZero();
    assertThat(w2.waitFor(Duration.ofSeconds(30))).as(w2.output()).isZero();
    // With both workers gone, anything unacked would be back in the queue.
    assertThat(broker.messageCount(broker.names().taskQueue("default"))).isZero();
    assertThat(broker.messageCount(broker.names().deadQueue())).isZero();
  }
}
