package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A lease lost with the connection: no outcome is claimed for a message the broker has taken back,
 * and a worker that knows a task's outcome does not run it a second time.
 */
@ExtendWith(BrokerExtension.class)
class LeaseLossIT {

  /**
   * The task ignores the stop that the lost connection brings and finishes while the connection is
   * down: amqp-client would drop its ack without a word and the broker would deliver it again. It
   * is announced as what it is, and its redelivery to the same worker is settled with the outcome
   * it had, not run again.
   */
  @Test
  void aTaskThatFinishesAfterItsLeaseWasLostIsReportedSoAndNotRunAgainHere(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    String name = "lossy-" + broker.namespace();
    broker.own(
        Worker.start(
            WorkerConfig.defaults(broker.settings())
                .withName(name)
                .withKillGrace(Duration.ofSeconds(30))));
    // Longer than the management API takes to list a new connection (its statistics come every
    // 5 s), so that the connection is closed while the task runs; shorter than the kill grace.
    String id = Broker.task(broker, "{\"type\":\"spin\",\"payload\":{\"seconds\":10}}");
    events.await(id, TaskState.RUNNING);
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed("conveyor-worker " + name, 1);

    events.await(id, TaskState.SUCCEEDED, Duration.ofSeconds(60));
    List<TaskEvent> of = events.of(id);
    assertThat(of).filteredOn(e -> e.state() == TaskState.RUNNING).hasSize(1);
    assertThat(of)
        .filteredOn(e -> e.state() == TaskState.REQUEUED)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.cause()).isEqualTo(Cause.CONNECTION_LOST);
              assertThat(e.reason()).contains("succeeded", "delivered again");
            });
    assertThat(of.getLast().state()).isEqualTo(TaskState.SUCCEEDED);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> broker.messageCount(broker.names().taskQueue("default")) == 0);
    // Still serving.
    events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);
  }

  /**
   * An embedded worker whose task cannot be killed ends itself, but never the JVM that hosts it: it
   * reports the exit code (to its callback, and as {@link Worker#exitCode}). Only {@code
   * bin/worker} turns it into the process's exit status.
   */
  @Test
  void anEmbeddedWorkerWithAStuckTaskNeverEndsItsHostJvm(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    Worker worker =
        broker.own(
            Worker.start(
                WorkerConfig.defaults(broker.settings())
                    .withName("embedded-" + broker.namespace())
                    .withKillGrace(Duration.ofMillis(300))));
    String id = Broker.task(broker, "{\"type\":\"spin\",\"payload\":{\"seconds\":30}}");
    events.await(id, TaskState.RUNNING);
    Broker.control(broker, Broker.command(Command.KILL, Target.all(), false));
    worker.awaitClosed();
    assertThat(worker.exitCode()).isEqualTo(ExitCodes.STUCK_TASK);
  }
}
