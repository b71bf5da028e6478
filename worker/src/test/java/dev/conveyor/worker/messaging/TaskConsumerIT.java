package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.execution.AckWindow;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.LeaseScope;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A channel the broker closes on its own — as it does when a delivery outlives {@code
 * consumer_timeout} — is not reopened by amqp-client's recovery; the consumer must do it.
 */
@ExtendWith(BrokerExtension.class)
class TaskConsumerIT {

  @Test
  void aChannelClosedByTheBrokerIsReportedAndConsumingResumesOnANewOne(TestBroker broker)
      throws Exception {
    String queue =
        broker.withChannel(
            ch -> {
              broker.topology().declareCore(ch);
              return broker.topology().declareTaskQueue(ch, "default");
            });
    List<Lease> leases = new CopyOnWriteArrayList<>();
    List<LeaseScope> lost = new CopyOnWriteArrayList<>();
    ExecutorService reopener = broker.own(Executors.newSingleThreadExecutor());
    TaskConsumer consumer =
        broker.own(
            new TaskConsumer(
                broker.connection(),
                queue,
                "default",
                AckWindow.Gathering.of(4, 4),
                leases::add,
                lost::add,
                reopener));
    consumer.start();
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().tasksExchange(),
              "default",
              null,
              "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          return null;
        });
    Awaitility.await().until(() -> leases.size() == 1);
    Channel first = leases.getFirst().channel();

    // A precondition failure closes the channel from the broker's side, like the ack timeout.
    first.basicAck(424242, false);

    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> lost.size() == 1);
    assertThat(lost.getFirst()).isSameAs(leases.getFirst().scope());
    assertThat(leases.getFirst().lost()).isTrue();
    assertThat(lost.getFirst().lostWithConnection()).isFalse();
    // The unacked delivery comes back, counted by the quorum queue, on a new channel.
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> leases.size() == 2);
    Lease again = leases.get(1);
    assertThat(again.channel()).isNotSameAs(first);
    assertThat(again.channel().isOpen()).isTrue();
    assertThat(again.props().getHeaders()).containsEntry(Headers.DELIVERY_COUNT, 1L);
    assertThat(again.lost()).isFalse();
    assertThat(consumer.consuming()).isTrue();
    again.channel().basicAck(again.deliveryTag(), false);
  }

  /**
   * After amqp-client recovers a connection, an ack with a delivery tag from before the loss is
   * dropped without a word; the lease knows it is lost, and the redelivery comes with a new one.
   */
  @Test
  void leasesOfALostConnectionAreKnownLostAndTheRedeliveryHoldsANewOne(TestBroker broker)
      throws Exception {
    String queue =
        broker.withChannel(
            ch -> {
              broker.topology().declareCore(ch);
              return broker.topology().declareTaskQueue(ch, "default");
            });
    List<Lease> leases = new CopyOnWriteArrayList<>();
    List<LeaseScope> lost = new CopyOnWriteArrayList<>();
    ExecutorService reopener = broker.own(Executors.newSingleThreadExecutor());
    String name = "lossy-consumer-" + broker.namespace();
    TaskConsumer consumer =
        broker.own(
            new TaskConsumer(
                broker.open(name),
                queue,
                "default",
                AckWindow.Gathering.of(4, 4),
                leases::add,
                lost::add,
                reopener));
    consumer.start();
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().tasksExchange(),
              "default",
              null,
              "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          return null;
        });
    Awaitility.await().until(() -> leases.size() == 1);
    Lease first = leases.getFirst();

    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> admin.closeConnections(name) == 1);

    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> leases.size() == 2);
    assertThat(lost).containsExactly(first.scope());
    assertThat(first.lost()).isTrue();
    assertThat(first.scope().lostWithConnection()).isTrue();
    Lease again = leases.get(1);
    assertThat(again.lost()).isFalse();
    assertThat(again.props().getHeaders()).containsEntry(Headers.DELIVERY_COUNT, 1L);
    again.channel().basicAck(again.deliveryTag(), false);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> broker.messageCount(queue) == 0);
  }
}
