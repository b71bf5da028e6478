package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.execution.Lease;
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
    List<Channel> lost = new CopyOnWriteArrayList<>();
    ExecutorService reopener = broker.own(Executors.newSingleThreadExecutor());
    TaskConsumer consumer =
        broker.own(
            new TaskConsumer(
                broker.connection(), queue, "default", 4, leases::add, lost::add, reopener));
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
    assertThat(lost.getFirst()).isSameAs(first);
    // The unacked delivery comes back, counted by the quorum queue, on a new channel.
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> leases.size() == 2);
    Lease again = leases.get(1);
    assertThat(again.channel()).isNotSameAs(first);
    assertThat(again.channel().isOpen()).isTrue();
    assertThat(again.props().getHeaders()).containsEntry(Headers.DELIVERY_COUNT, 1L);
    assertThat(consumer.consuming()).isTrue();
    again.channel().basicAck(again.deliveryTag(), false);
  }
}
