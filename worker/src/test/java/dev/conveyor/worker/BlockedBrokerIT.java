package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.PrivateBroker;
import dev.conveyor.testkit.PrivateBrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A deadline fires on time while the broker blocks the worker (a memory alarm): the thread that
 * enforces deadlines never waits for the broker, although other work of the worker does.
 */
@ExtendWith(PrivateBrokerExtension.class)
class BlockedBrokerIT {

  private static final long TIMEOUT_MS = 13_000;

  @Test
  void aDeadlineFiresOnTimeWhileTheBrokerBlocksTheWorker(PrivateBroker node) throws Exception {
    TestBroker broker = node.testBroker();
    EventLog events = EventLog.open(broker);
    String name = "blocked-" + broker.namespace();
    Worker worker =
        broker.own(
            Worker.start(
                WorkerConfig.defaults(broker.settings())
                    .withName(name)
                    .withConcurrency(2)
                    // Its heartbeats publish: the first publish after the alarm still goes through,
                    // the next ones find the connection blocked.
                    .withHeartbeat(Duration.ofSeconds(1))
                    .withKillGrace(Duration.ofSeconds(30))));

    // A: its deadline falls while the worker waits on the blocked broker.
    String a =
        Broker.task(
            broker,
            "{\"type\":\"sleep\",\"payload\":{\"seconds\":60},\"timeoutMs\":"
                + TIMEOUT_MS
                + ",\"graceMs\":20000}");
    // B: a delivery past its attempts, held for word of a lost connection (10 s), then
    // dead-lettered with a confirmed publish that the blocked broker never confirms in time.
    String b = "held-" + broker.namespace();
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().tasksExchange(),
              "default",
              new AMQP.BasicProperties.Builder()
                  .messageId(b)
                  .deliveryMode(2)
                  .headers(Map.of(Headers.ATTEMPTS_USED, 1))
                  .build(),
              "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          return null;
        });
    events.await(a, TaskState.RUNNING);
    // Both delivered: A runs, B is held (rabbitmqctl is too slow on a busy machine to ask it).
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> worker.status().tasks().size() == 2);

    node.setMemoryWatermark(0.00001);
    try {
      Awaitility.await().atMost(Duration.ofSeconds(60)).until(node::alarmed);
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> "blocked".equals(node.connectionStates().get("conveyor-worker " + name)));
      // A's deadline falls while the worker is blocked (events cannot go out): the worker's own
      // status shows it stopped, or already gone from its running tasks.
      Awaitility.await()
          .atMost(Duration.ofSeconds(40))
          .until(
              () ->
                  worker.status().tasks().stream()
                      .noneMatch(t -> t.id().equals(a) && t.stage().equals("running")));
    } finally {
      node.setMemoryWatermark(0.4);
    }

    TaskEvent timedOut = events.await(a, TaskState.TIMED_OUT, Duration.ofSeconds(60));
    // Stopped within the deadline plus scheduling noise; a watchdog stuck behind the blocked
    // confirm (up to 10 s) would have stopped it seconds late.
    TaskEvent held = events.awaitFinal(b, Duration.ofSeconds(60));
    System.err.println("A: " + events.of(a) + "\nB: " + events.of(b));
    assertThat(held.state()).isEqualTo(TaskState.DEAD);
    assertThat(timedOut.durationMs()).isBetween(TIMEOUT_MS, TIMEOUT_MS + 1_500);
  }
}
