package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The queue behind a worker's word of other workers' lost deliveries outlives the worker's own
 * connection: an event published while the worker reconnects reaches it afterwards. (A private
 * queue goes with the connection, and with it such an event.)
 */
@ExtendWith(BrokerExtension.class)
class KeptEventSubscriptionIT {

  @Test
  @SuppressWarnings("try") // the subscription only has to stay open while the event arrives
  void anEventPublishedWhileTheSubscriberReconnectsReachesItAfterwards(TestBroker broker)
      throws Exception {
    String name = "kept-" + broker.namespace();
    Connection connection = broker.open(name);
    List<Event> received = new CopyOnWriteArrayList<>();
    try (EventSubscription sub =
        EventSubscription.openKept(
            connection,
            broker.topology(),
            broker.names().requeuedFor(name),
            Duration.ofMinutes(1),
            List.of("task.requeued"),
            received::add)) {
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      admin.closeConnectionsOnceListed(name, 1);
      Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> !connection.isOpen());

      publishRequeued(broker, "lost-1");
      // Recovery waits a second before it reconnects: the event was published in between.
      assertThat(connection.isOpen()).as("published while the subscriber was away").isFalse();

      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> received.size() == 1);
      assertThat(received.getFirst())
          .isInstanceOfSatisfying(
              Event.Task.class, t -> assertThat(t.event().task()).isEqualTo("lost-1"));
    }
    // Closed normally: the queue goes at once rather than when it expires.
    String queue = broker.names().requeuedFor(name);
    assertThat(exists(broker, queue)).as(queue).isFalse();
  }

  private static boolean exists(TestBroker broker, String queue) {
    try {
      broker.withChannel(ch -> ch.queueDeclarePassive(queue));
      return true;
    } catch (java.io.UncheckedIOException e) {
      return false; // 404: the broker closed that channel
    }
  }

  private static void publishRequeued(TestBroker broker, String task) {
    TaskEvent event =
        new TaskEvent(
            task,
            "sleep",
            TaskState.REQUEUED,
            "elsewhere",
            1,
            Instant.now(),
            5L,
            Cause.CONNECTION_LOST,
            "the broker took the task back",
            null,
            "default",
            null);
    broker.withChannel(
        ch -> {
          ch.basicPublish(
              broker.names().eventsExchange(),
              event.routingKey(),
              new AMQP.BasicProperties.Builder().contentType(Wire.CONTENT_TYPE).build(),
              Wire.encode(event));
          return null;
        });
  }
}
