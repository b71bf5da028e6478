package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.impl.recovery.AutorecoveringConnection;
import dev.conveyor.protocol.broker.KeptQueueName;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.KeptEventSubscription;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The queue behind a worker's word of other workers' lost deliveries outlives the worker's own
 * connection: an event published while the worker reconnects reaches it afterwards. (A private
 * queue goes with the connection, and with it such an event.)
 */
@ExtendWith(BrokerExtension.class)
class KeptEventSubscriptionIT {

  private final ScheduledExecutorService reopener =
      Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "kept-reopener"));

  @AfterEach
  void stopReopener() {
    reopener.shutdownNow();
  }

  @Test
  @SuppressWarnings("try") // the subscription only has to stay open while the event arrives
  void anEventPublishedWhileTheSubscriberReconnectsReachesItAfterwards(TestBroker broker)
      throws Exception {
    String name = "kept-" + broker.namespace();
    Connection connection = broker.open(name);
    List<Event> received = new CopyOnWriteArrayList<>();
    try (KeptEventSubscription sub = subscribe(broker, connection, name, received)) {
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

  /**
   * An operator deletes the queue while the worker consumes it: the broker cancels the consumer,
   * and nothing else would declare the queue again while the connection holds.
   */
  @Test
  void aQueueDeletedWhileItIsConsumedIsDeclaredAndConsumedAgain(TestBroker broker)
      throws Exception {
    String name = "kept-" + broker.namespace();
    String queue = broker.names().requeuedFor(name);
    List<Event> received = new CopyOnWriteArrayList<>();
    try (KeptEventSubscription sub = subscribe(broker, broker.open(name), name, received)) {
      broker.withChannel(ch -> ch.queueDelete(queue));

      Awaitility.await("consumed again")
          .atMost(Duration.ofSeconds(20))
          .until(() -> consumers(broker, queue) == 1);
      publishRequeued(broker, "after-delete");
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> received.size() == 1);
      assertThat(sub.subscribed()).isTrue();
    }
  }

  /**
   * A listener that fails on an event (a bug, or an event it did not expect) loses that event only:
   * amqp-client closes the channel of a consumer that throws, which left the worker deaf to other
   * workers' word until its next reconnection.
   */
  @Test
  void aListenerThatFailsOnAnEventLosesThatEventOnly(TestBroker broker) throws Exception {
    String name = "kept-" + broker.namespace();
    List<Event> received = new CopyOnWriteArrayList<>();
    try (KeptEventSubscription sub =
        KeptEventSubscription.open(
            broker.open(name),
            broker.topology(),
            broker.names().requeuedFor(name),
            Duration.ofMinutes(1),
            List.of("task.requeued"),
            event -> {
              received.add(event);
              if (received.size() == 1) {
                throw new IllegalStateException("the listener's bug");
              }
            },
            reopener)) {
      publishRequeued(broker, "first");
      publishRequeued(broker, "second");

      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> received.size() == 2);
      assertThat(sub.subscribed()).isTrue();
    }
  }

  /**
   * After a lost connection, the broker refuses amqp-client's declaration of the queue and closes
   * its channel (after the loss of the cluster node a durable queue lives on, a 404; here a 406, as
   * the queue was made again with other arguments while the subscriber was away). Nothing can be
   * had from that queue, so the subscription moves at once to a queue of another name, which
   * receives what is published from then on; amqp-client's next recovery leaves the old name alone.
   */
  @Test
  void aQueueRefusedOnRecoveryIsLeftForAnotherName(TestBroker broker) throws Exception {
    String name = "kept-" + broker.namespace();
    String queue = broker.names().requeuedFor(name);
    broker.deleteAfterwards(queue); // the one the test plants, should the test fail before it does
    Connection connection = broker.open(name);
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    List<Event> received = new CopyOnWriteArrayList<>();
    try (LogCapture log = LogCapture.of(KeptQueueName.class);
        KeptEventSubscription sub = subscribe(broker, connection, name, received)) {
      // Before the recovery declares anything: the window held open on the recovery's thread.
      Recoveries.conflictAtStart(broker, connection, queue, null);
      CountDownLatch recovered = Recoveries.next(connection);
      admin.closeConnectionsOnceListed(name, 1);
      assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();

      Awaitility.await("subscribed under another name")
          .atMost(Duration.ofSeconds(20))
          .until(() -> sub.subscribed() && admin.queues(queue + ".moved-").size() == 1);
      String moved = admin.queues(queue + ".moved-").getFirst().name();
      assertThat(consumers(broker, moved)).isEqualTo(1);
      assertThat(log.warnings())
          .anyMatch(
              w ->
                  w.contains("queue " + queue + " cannot be declared (PRECONDITION_FAILED")
                      && w.contains("using " + moved));
      publishRequeued(broker, "after-refusal");
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> received.size() == 1);
      assertThat(((AutorecoveringConnection) connection).getRecordedQueues())
          .as("the queues amqp-client's recovery declares again")
          .containsKey(moved)
          .doesNotContainKey(queue);

      // The next recovery declares the moved queue, and not the old name beside it.
      broker.withChannel(ch -> ch.queueDelete(queue));
      CountDownLatch again = Recoveries.next(connection);
      admin.closeConnectionsOnceListed(name, 1);
      assertThat(again.await(30, TimeUnit.SECONDS)).as("recovered again").isTrue();
      Awaitility.await("consumed again")
          .atMost(Duration.ofSeconds(20))
          .until(() -> consumers(broker, moved) == 1);
      assertThat(exists(broker, queue)).as("the old name declared again").isFalse();
      publishRequeued(broker, "after-recovery");
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> received.size() == 2);
      assertThat(sub.subscribed()).isTrue();
    }
  }

  /**
   * A channel the broker closes gives its number back, and the next channel opened may take it.
   * Subscribing again must not make amqp-client forget the lost channel by unregistering it, which
   * goes by number: the channel that took the number would not be recovered at the next
   * reconnection. Held open: the reopener waits while the test opens that channel.
   */
  @Test
  void aChannelThatTookTheLostOnesNumberIsStillRecoveredAtTheNextReconnection(TestBroker broker)
      throws Exception {
    String name = "kept-" + broker.namespace();
    String queue = broker.names().requeuedFor(name);
    String witness = broker.namespace() + ".witness";
    broker.deleteAfterwards(witness);
    broker.deleteAfterwards(queue); // the one the test plants
    Connection connection = broker.open(name);
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    CountDownLatch release = new CountDownLatch(1);
    try (KeptEventSubscription sub =
        subscribe(broker, connection, name, new CopyOnWriteArrayList<>())) {
      Recoveries.conflictAtStart(broker, connection, queue, null);
      reopener.execute(
          () -> {
            try {
              release.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
      CountDownLatch recovered = Recoveries.next(connection);
      admin.closeConnectionsOnceListed(name, 1);
      assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();

      // The recovery's declaration was refused, and the subscription's channel closed: its number,
      // the connection's first, is free again.
      Channel other = connection.createChannel();
      assertThat(other.getChannelNumber()).as("took the lost channel's number").isEqualTo(1);
      other.queueDeclare(witness, true, false, false, null);
      other.basicConsume(witness, true, new DefaultConsumer(other));
      // The planted queue goes before the reopener may declare the name again: else it moves.
      broker.withChannel(ch -> ch.queueDelete(queue));
      release.countDown();
      Awaitility.await("subscribed again")
          .atMost(Duration.ofSeconds(20))
          .until(() -> consumers(broker, queue) == 1);

      CountDownLatch again = Recoveries.next(connection);
      admin.closeConnectionsOnceListed(name, 1);
      assertThat(again.await(30, TimeUnit.SECONDS)).as("recovered again").isTrue();
      Awaitility.await("the other channel's consumer recovered")
          .atMost(Duration.ofSeconds(20))
          .until(() -> consumers(broker, witness) == 1);
      assertThat(consumers(broker, queue)).as("one consumer of " + queue).isEqualTo(1);
      assertThat(sub.subscribed()).isTrue();
    }
  }

  /** {@code name}'s queue of {@code task.requeued} events, kept a minute. */
  private KeptEventSubscription subscribe(
      TestBroker broker, Connection connection, String name, List<Event> received)
      throws java.io.IOException {
    return KeptEventSubscription.open(
        connection,
        broker.topology(),
        broker.names().requeuedFor(name),
        Duration.ofMinutes(1),
        List.of("task.requeued"),
        received::add,
        reopener);
  }

  /** The queue's consumers; -1 while it does not exist. */
  private static int consumers(TestBroker broker, String queue) {
    try {
      return broker.withChannel(ch -> ch.queueDeclarePassive(queue).getConsumerCount());
    } catch (java.io.UncheckedIOException e) {
      return -1; // 404: the broker closed that channel
    }
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
