package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A prefetched task, delivered but waiting for a free thread, is not running: it shows as such, a
 * stop aimed at it ends it at once without running it, and SIGTERM hands it back at once.
 */
@ExtendWith(BrokerExtension.class)
class PrefetchIT {

  private static final String SLEEP_30 = "{\"type\":\"sleep\",\"payload\":{\"seconds\":30}}";

  @Test
  void prefetchedTasksAreShownStoppedAtOnceAndHandedBackOnShutdown(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    Worker worker =
        broker.own(
            Worker.start(
                WorkerConfig.defaults(broker.settings())
                    .withName("prefetching-" + broker.namespace())
                    .withConcurrency(1)
                    .withPrefetch(3)
                    .withShutdownGrace(Duration.ofSeconds(20))));
    String running = Broker.task(broker, SLEEP_30);
    events.await(running, TaskState.RUNNING);
    String stopped = Broker.task(broker, SLEEP_30);
    String handedBack = Broker.task(broker, SLEEP_30);

    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> stages(worker.status()).equals(List.of("running", "prefetched", "prefetched")));
    WorkerStatus.RunningTask waiting =
        worker.status().tasks().stream().filter(t -> t.id().equals(stopped)).findFirst().get();
    assertThat(waiting.deadline()).as("no deadline before it starts").isNull();

    Broker.control(broker, Broker.command(Command.STOP, new Target.Tasks(List.of(stopped)), false));
    TaskEvent cancelled = events.await(stopped, TaskState.CANCELLED);
    assertThat(cancelled.cause()).isEqualTo(Cause.USER_STOP);
    assertThat(events.states(stopped)).doesNotContain(TaskState.RUNNING);
    assertThat(events.states(running)).doesNotContain(TaskState.CANCELLED);

    // SIGTERM: the running task gets its shutdown grace (20 s); the waiting one goes back now.
    CompletableFuture<Void> closing = CompletableFuture.runAsync(worker::close);
    TaskEvent requeued = events.await(handedBack, TaskState.REQUEUED, Duration.ofSeconds(5));
    assertThat(requeued.cause()).isEqualTo(Cause.SHUTDOWN);
    assertThat(events.states(handedBack)).doesNotContain(TaskState.RUNNING);
    assertThat(closing).isNotDone();
    assertThat(events.states(running)).containsExactly(TaskState.RUNNING);
    Broker.control(broker, Broker.command(Command.STOP, Target.all(), false));
    closing.get();
  }

  private static List<String> stages(WorkerStatus status) {
    return status.tasks().stream()
        .map(WorkerStatus.RunningTask::stage)
        .sorted((a, b) -> a.equals("running") ? -1 : b.equals("running") ? 1 : 0)
        .toList();
  }
}
