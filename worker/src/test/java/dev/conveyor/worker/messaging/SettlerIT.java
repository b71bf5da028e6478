package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.execution.AckWindow;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.LeaseScope;
import dev.conveyor.worker.execution.Outcome;
import dev.conveyor.worker.execution.RunningTasks;
import dev.conveyor.worker.execution.TaskRun;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The settler against the real broker, one delivery at a time: each settlement is exactly what its
 * outcome and its lease allow, and a lost lease is never settled on its tag.
 */
@ExtendWith(BrokerExtension.class)
class SettlerIT {

  private TestBroker broker;
  private String queue;
  private EventLog events;
  private final RunningTasks running = new RunningTasks("w");
  private final LostLeases lostLeases = new LostLeases();
  private Settler settler;
  private Channel consumer;

  @BeforeEach
  void setUp(TestBroker broker) throws Exception {
    this.broker = broker;
    queue =
        broker.withChannel(
            ch -> {
              broker.topology().declareCore(ch);
              return broker.topology().declareTaskQueue(ch, "default");
            });
    events = EventLog.open(broker);
    EventPublisher publisher =
        broker.own(
            new EventPublisher(
                broker.connection(), broker.topology(), "w", EventLevel.ALL, e -> {}, () -> {}));
    settler =
        new Settler(
            broker.connection(),
            broker.topology(),
            publisher,
            running,
            Duration.ZERO,
            "w",
            lostLeases);
    broker.own(settler::close);
    consumer = broker.connection().createChannel();
  }

  /** Publishes a task and takes its delivery, unacked, into a run. */
  private TaskRun delivered(String id, String json, LeaseScope scope) throws Exception {
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().tasksExchange(),
              "default",
              new com.rabbitmq.client.AMQP.BasicProperties.Builder()
                  .messageId(id)
                  .deliveryMode(2)
                  .build(),
              json.getBytes(StandardCharsets.UTF_8));
          return null;
        });
    GetResponse got =
        Awaitility.await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> consumer.basicGet(queue, false), r -> r != null);
    Lease lease =
        new Lease(
            consumer,
            got.getEnvelope().getDeliveryTag(),
            "default",
            got.getProps(),
            got.getBody(),
            scope);
    TaskMessage task = Wire.decodeTask(got.getBody(), id);
    TaskRun run = new TaskRun(task, lease, 1, null);
    running.add(run);
    return run;
  }

  private void awaitQueue(long ready) {
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> broker.messageCount(queue) == ready);
  }

  @Test
  void aSucceededTaskIsAckedAnnouncedAndRememberedAsSettled() throws Exception {
    TaskRun run = delivered("ok-1", "{\"type\":\"noop\"}", new LeaseScope());
    settler.settle(run, new Outcome.Succeeded("done"));
    assertThat(run.done()).isCompletedWithValue(new Outcome.Succeeded("done"));
    assertThat(running.size()).isZero();
    events.await("ok-1", TaskState.SUCCEEDED);
    consumer.close();
    awaitQueue(0);
    assertThat(lostLeases.takeKnown("ok-1", 0)).containsInstanceOf(LostLeases.Known.Settled.class);
  }

  /**
   * With slack above the concurrency, a busy channel's acks gather, and a task's event follows its
   * ack. A stopped or killed task's ack does not gather: the user who ended it waits for that
   * event. The gathering is held open: its clock stands still and its flushes never run.
   */
  @Test
  void aCancelledTasksAckDoesNotGatherWhereASucceededOnesDoes() throws Exception {
    AckWindow window =
        new AckWindow(
            (tag, multiple) -> consumer.basicAck(tag, multiple),
            new AckWindow.Gathering(1, 64, Duration.ofSeconds(60), () -> 0L, (at, flush) -> true));
    LeaseScope scope = new LeaseScope(window);
    List<TaskRun> runs = new ArrayList<>();
    for (String id : List.of("first", "gathers", "killed")) {
      TaskRun run = delivered(id, "{\"type\":\"noop\"}", scope);
      window.delivered(run.lease().deliveryTag());
      runs.add(run);
    }

    settler.settle(runs.get(0), new Outcome.Succeeded(null));
    assertThat(runs.get(0).done()).as("idle: acked at once").isDone();
    settler.settle(runs.get(1), new Outcome.Succeeded(null));
    assertThat(runs.get(1).done()).as("just after a write: it gathers").isNotDone();

    settler.settle(runs.get(2), new Outcome.Cancelled(Cause.USER_KILL, "alice"));
    assertThat(runs.get(2).done()).as("a kill's ack goes at once").isDone();
    assertThat(runs.get(1).done()).as("and takes the gathered one along").isDone();
    events.await("killed", TaskState.CANCELLED);
    consumer.close();
    awaitQueue(0);
  }

  @Test
  void aSecondSettlementOfTheSameRunDoesNothing() throws Exception {
    TaskRun run = delivered("once", "{\"type\":\"noop\"}", new LeaseScope());
    settler.settle(run, new Outcome.Succeeded(null));
    settler.settle(run, new Outcome.Failed("late"));
    events.await("once", TaskState.SUCCEEDED);
    assertThat(events.states("once")).containsExactly(TaskState.SUCCEEDED);
  }

  /**
   * The lease was lost (its channel or connection went): nothing is acknowledged or copied on its
   * tag, the event says what became of the task and that it comes back, and the outcome is kept for
   * the redelivery.
   */
  @Test
  void aTaskWhoseLeaseWasLostIsNeitherAckedNorCopiedButReportedAndRemembered() throws Exception {
    LeaseScope scope = new LeaseScope();
    TaskRun run = delivered("lost-1", "{\"type\":\"noop\",\"maxAttempts\":3}", scope);
    scope.markLost(true);
    settler.settle(run, new Outcome.Failed("boom"));

    var requeued = events.await("lost-1", TaskState.REQUEUED);
    assertThat(requeued.cause()).isEqualTo(Cause.CONNECTION_LOST);
    assertThat(requeued.reason()).contains("failed (boom)", "delivered again");
    // Not acked: the message comes back when its channel goes; and no retry copy was published.
    consumer.close();
    awaitQueue(1);
    assertThat(lostLeases.takeKnown("lost-1", 0))
        .hasValueSatisfying(
            k ->
                assertThat(k)
                    .isEqualTo(
                        new LostLeases.Known.Finished(1, new Outcome.Failed("boom"), false)));
  }

  /** A channel that closed under the settler: the ack fails, and the lease is treated as lost. */
  @Test
  void anAckOnAClosedChannelIsALostLeaseNotAnError() throws Exception {
    TaskRun run = delivered("closed-1", "{\"type\":\"noop\"}", new LeaseScope());
    consumer.close();
    settler.settle(run, new Outcome.Succeeded(null));
    var requeued = events.await("closed-1", TaskState.REQUEUED);
    assertThat(requeued.reason()).contains("succeeded", "delivered again");
    assertThat(events.states("closed-1")).doesNotContain(TaskState.SUCCEEDED);
    awaitQueue(1);
  }

  @Test
  void aFailureWithAttemptsLeftIsRetriedAsACopyCarryingTheAttempt() throws Exception {
    TaskRun run = delivered("retry-1", "{\"type\":\"noop\",\"maxAttempts\":2}", new LeaseScope());
    settler.settle(run, new Outcome.Failed("boom"));
    events.await("retry-1", TaskState.REQUEUED);
    GetResponse copy =
        Awaitility.await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> consumer.basicGet(queue, true), r -> r != null);
    assertThat(copy.getProps().getMessageId()).isEqualTo("retry-1");
    assertThat(copy.getProps().getHeaders())
        .containsEntry(dev.conveyor.protocol.wire.Headers.ATTEMPTS_USED, 1);
  }
}
