package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.net.URI;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Queue counts against the real broker. The dashboard's screenshot once showed {@code –} for the
 * ready, unacked and consumers of a {@code default} queue that a worker consumed from: the counts
 * were from before the worker declared it (they were read every 2 s only), and in the 5 s after
 * (until the management API's next statistics round) the API lists a new queue by name alone, which
 * read as 0 consumers. Counts now come from a passive declaration when the API has none, and a
 * worker's start triggers a count (see DashboardServer).
 */
@ExtendWith(BrokerExtension.class)
class QueueStatsIT {

  /** Declares the task queue and consumes from it, as a worker that just started does. */
  private static void consumer(TestBroker broker, String queue) throws Exception {
    Channel ch = broker.connection().createChannel();
    broker.own(ch);
    broker.useQueue(queue);
    broker.topology().declareCore(ch);
    broker.topology().declareTaskQueue(ch, queue);
    ch.basicConsume(broker.names().taskQueue(queue), false, new DefaultConsumer(ch));
  }

  @Test
  void aQueueJustDeclaredIsCountedWithItsConsumer(TestBroker broker) throws Exception {
    QueueStats stats = QueueStats.forAmqp(broker.names(), broker.uri(), null);
    QueueStats.Snapshot before = stats.read(broker.connection(), Set.of("default"));
    assertThat(before.taskQueues().getFirst().ready()).as("not declared yet").isNull();

    consumer(broker, "default");
    QueueStats.Snapshot after = stats.read(broker.connection(), Set.of("default"));
    QueueStats.Counts q = after.taskQueues().getFirst();
    assertThat(q.queue()).isEqualTo("default");
    assertThat(q.brokerName()).isEqualTo(broker.names().taskQueue("default"));
    assertThat(q.ready()).isEqualTo(0L);
    assertThat(q.consumers()).isEqualTo(1L);
    assertThat(after.dead().ready()).isNotNull();
  }

  @Test
  void withoutTheManagementApiPassiveDeclarationsCount(TestBroker broker) throws Exception {
    // Port 9 (discard): nothing answers there, so only AMQP counts.
    QueueStats stats =
        QueueStats.forAmqp(broker.names(), broker.uri(), URI.create("http://127.0.0.1:9/"));
    consumer(broker, "default");
    broker.withConfirms(
        ch -> {
          ch.basicPublish(broker.names().tasksExchange(), "default", null, "{}".getBytes());
          return null;
        });
    QueueStats.Counts q =
        stats.read(broker.connection(), Set.of("default")).taskQueues().getFirst();
    assertThat(q.consumers()).isEqualTo(1L);
    assertThat(q.unacked()).as("only the management API knows").isNull();
    assertThat(q.ready()).isNotNull();
  }
}
