package dev.conveyor.producer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.testkit.PrivateBroker;
import dev.conveyor.testkit.PrivateBrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A broker that blocks publishers for a memory alarm, on a node of the test's own. */
@ExtendWith(PrivateBrokerExtension.class)
class BlockedPublishIT {

  @Test
  void aPublishBlockedByAnAlarmIsReportedWaitsPastTheConfirmTimeoutAndEndsWhenItClears(
      PrivateBroker rabbit) throws Exception {
    TestBroker broker = rabbit.testBroker();
    List<String> notices = new CopyOnWriteArrayList<>();
    ExecutorService thread = Executors.newSingleThreadExecutor();
    try (TaskPublisher publisher =
        TaskPublisher.open(broker.settings())
            .confirmTimeout(Duration.ofSeconds(1))
            .onBlocked(
                reason -> notices.add("blocked: " + reason), () -> notices.add("unblocked"))) {
      publisher.publish(TaskSpec.of("noop").build()); // declared and confirmed before the alarm

      rabbit.setMemoryWatermark(0.00001);
      Awaitility.await().atMost(Duration.ofSeconds(60)).until(rabbit::alarmed);
      CompletableFuture<TaskMessage> blocked =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return publisher.publish(TaskSpec.of("noop").build());
                } catch (java.io.IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              },
              thread);
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> !notices.isEmpty());
      assertThat(notices).containsExactly("blocked: low on memory");
      // Three confirm timeouts go by without a failure: the broker said why nothing moves.
      Awaitility.await()
          .during(Duration.ofSeconds(3))
          .atMost(Duration.ofSeconds(5))
          .until(() -> !blocked.isDone());

      rabbit.setMemoryWatermark(0.4);
      TaskMessage sent = blocked.get(20, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(sent.id()).isNotBlank();
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> notices.equals(List.of("blocked: low on memory", "unblocked")));
      String queue = broker.names().taskQueue("default");
      // rabbitmqctl answers in seconds on a busy machine: generous, only a lost task never comes.
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofSeconds(1))
          .until(() -> rabbit.queue(queue).ready() == 2);
    } finally {
      thread.shutdownNow();
    }
  }
}
