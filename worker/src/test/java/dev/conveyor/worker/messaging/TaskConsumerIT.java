package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.QueueCounts;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.execution.AckWindow;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.LeaseScope;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
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
    String queue = declareDefaultQueue(broker);
    List<Lease> leases = new CopyOnWriteArrayList<>();
    List<LeaseScope> lost = new CopyOnWriteArrayList<>();
    TaskConsumer consumer = consumer(broker, broker.connection(), queue, leases::add, lost::add);
    consumer.start();
    publishNoop(broker);
    Awaitility.await().until(() -> leases.size() == 1);
    Channel first = leases.getFirst().channel();

    LogCapture log = LogCapture.of(TaskConsumer.class);
    try (log) {
      // A precondition failure closes the channel from the broker's side, like the ack timeout.
      first.basicAck(424242, false);
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> lost.size() == 1);
    }
    // The broker's reason, without amqp-client's protocol syntax around it.
    assertThat(log.warnings())
        .contains(
            "WARN broker closed the channel of queue default: PRECONDITION_FAILED - unknown"
                + " delivery tag 424242");
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
   * amqp-client remembers every consumer until the client cancels it, and consumes with it again at
   * each recovery. The consumer of a channel the broker closed must be forgotten once replaced:
   * kept, each such closure left one behind for good, and every recovery after it consumed with it
   * again (here on the dead channel, failing with an error logged). Nor may the closed channel stay
   * known to amqp-client, whose recovery would open it again, idle: one more channel on the broker
   * for each closure, at every recovery after it.
   */
  @Test
  void theConsumerOfAReplacedChannelIsForgottenAndNotRecovered(TestBroker broker) throws Exception {
    String queue = declareDefaultQueue(broker);
    List<Lease> leases = new CopyOnWriteArrayList<>();
    List<LeaseScope> lost = new CopyOnWriteArrayList<>();
    String name = "replaced-channel-" + broker.namespace();
    Connection connection = open(broker, name);
    TaskConsumer consumer = consumer(broker, connection, queue, leases::add, lost::add);
    // After the consumer's own listener, which consumes again.
    CountDownLatch recovered = Recoveries.next(connection);
    consumer.start();
    // Opened after it, as a worker opens its events and control channels: the number the broker
    // frees is then not the one amqp-client gives the next channel.
    Channel later = connection.createChannel();
    publishNoop(broker);
    Awaitility.await().until(() -> leases.size() == 1);
    Channel replaced = leases.getFirst().channel();
    replaced.basicAck(424242, false); // the broker closes the channel
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> leases.size() == 2);
    leases.get(1).channel().basicAck(leases.get(1).deliveryTag(), false);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> broker.messageCount(queue) == 0);
    assertThat(recordedConsumers(connection)).as("consumers amqp-client would recover").hasSize(1);

    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed(name, 1);
    assertThat(recovered.await(30, TimeUnit.SECONDS)).isTrue();

    assertThat(broker.consumerCount(queue)).as("consumers of the task queue").isEqualTo(1);
    assertThat(recordedConsumers(connection)).hasSize(1);
    // Nor is the closed channel opened again, idle: one more for each closure and every recovery.
    assertThat(replaced.isOpen()).as("the replaced channel after the recovery").isFalse();
    assertThat(later.isOpen()).as("the channel opened after it").isTrue();
    publishNoop(broker);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> leases.size() == 3);
    Lease after = leases.get(2);
    assertThat(after.lost()).isFalse();
    after.channel().basicAck(after.deliveryTag(), false);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> broker.messageCount(queue) == 0);
  }

  /**
   * After amqp-client recovers a connection, an ack with a delivery tag from before the loss is
   * dropped without a word; the lease knows it is lost, and the redelivery comes with a new one.
   */
  @Test
  void leasesOfALostConnectionAreKnownLostAndTheRedeliveryHoldsANewOne(TestBroker broker)
      throws Exception {
    String queue = declareDefaultQueue(broker);
    List<Lease> leases = new CopyOnWriteArrayList<>();
    List<LeaseScope> lost = new CopyOnWriteArrayList<>();
    String name = "lossy-consumer-" + broker.namespace();
    TaskConsumer consumer = consumer(broker, open(broker, name), queue, leases::add, lost::add);
    consumer.start();
    publishNoop(broker);
    Awaitility.await().until(() -> leases.size() == 1);
    Lease first = leases.getFirst();

    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed(name, 1);

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

  /**
   * amqp-client dispatches a connection's consumer callbacks on a pool of that connection's own:
   * after a recovery, the new channel's deliveries do not wait for what the old channel still has
   * to dispatch, its shutdown signal included. Here the old channel's dispatch is held (the intake
   * of its first delivery waits) until that delivery comes again on the recovered channel. By then
   * its lease must be known lost, or a worker would run the task a second time beside the first;
   * the redelivery holds a lease of the new channel that nothing the old one dispatches later takes
   * away, and a delivery still queued on the old channel is handed on lost.
   */
  @Test
  void theOldLeaseIsLostBeforeItsRedeliveryThoughTheOldChannelStillDispatches(TestBroker broker)
      throws Exception {
    String queue = declareDefaultQueue(broker);
    List<Lease> leases = new CopyOnWriteArrayList<>();
    List<LeaseScope> lost = new CopyOnWriteArrayList<>();
    AtomicReference<Lease> first = new AtomicReference<>();
    CountDownLatch redelivered = new CountDownLatch(1);
    AtomicBoolean firstLostWhenRedelivered = new AtomicBoolean();
    List<LeaseScope> lostWhenRedelivered = new CopyOnWriteArrayList<>();
    Set<Thread> oldDispatch = ConcurrentHashMap.newKeySet();
    Consumer<Lease> intake =
        lease -> {
          leases.add(lease);
          if (!redelivery(lease)) {
            // A first delivery: the old channel's.
            oldDispatch.add(Thread.currentThread());
            if (first.compareAndSet(null, lease)) {
              try {
                redelivered.await(60, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
          } else if (lease.props().getMessageId().equals("a")) {
            firstLostWhenRedelivered.set(first.get().lost());
            lostWhenRedelivered.addAll(lost);
            redelivered.countDown();
          }
        };
    String name = "held-dispatch-" + broker.namespace();
    TaskConsumer consumer = consumer(broker, open(broker, name), queue, intake, lost::add);
    consumer.start();
    broker.withConfirms(
        ch -> {
          for (String id : List.of("a", "b")) {
            ch.basicPublish(
                broker.names().tasksExchange(),
                "default",
                new AMQP.BasicProperties.Builder().messageId(id).build(),
                "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          }
          return null;
        });
    // Both are on the old channel: "a" in its intake, "b" queued behind it.
    Awaitility.await().until(() -> first.get() != null && broker.messageCount(queue) == 0);

    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed(name, 1);

    assertThat(redelivered.await(60, TimeUnit.SECONDS)).as("redelivered").isTrue();
    assertThat(firstLostWhenRedelivered)
        .as("the first lease was known lost when its redelivery was handed on")
        .isTrue();
    assertThat(lostWhenRedelivered).containsExactly(first.get().scope());
    assertThat(first.get().scope().lostWithConnection()).isTrue();

    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> leases.size() == 4);
    // amqp-client shuts the old connection's consumer pool down once every channel's shutdown
    // signal has been dispatched (ChannelManager.scheduleShutdownProcessing): when its threads have
    // ended, the old channel has nothing more to hand on.
    for (Thread t : oldDispatch) {
      t.join(Duration.ofSeconds(30));
      assertThat(t.isAlive()).as("old dispatch thread %s", t.getName()).isFalse();
    }
    assertThat(lost).containsExactly(first.get().scope());
    Lease straggler =
        leases.stream().filter(l -> l != first.get() && !redelivery(l)).findFirst().orElseThrow();
    assertThat(straggler.props().getMessageId()).isEqualTo("b");
    assertThat(straggler.lost()).isTrue();
    assertThat(straggler.scope().lostWithConnection()).isTrue();
    List<Lease> again = leases.stream().filter(TaskConsumerIT::redelivery).toList();
    assertThat(again).extracting(l -> l.props().getMessageId()).containsExactlyInAnyOrder("a", "b");
    for (Lease l : again) {
      assertThat(l.lost()).isFalse();
      assertThat(l.scope()).isNotSameAs(first.get().scope()).isSameAs(again.getFirst().scope());
      // Through the new scope's window: the acks must reach the channel that delivered them.
      l.scope().acks().ack(l.deliveryTag());
    }
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> admin.queue(queue).equals(QueueCounts.EMPTY));
  }

  /**
   * amqp-client closes a lost connection's channels one by one, in no set order, while the socket
   * is still open: a publish on a channel it has not closed yet goes out as if sent, and the
   * broker, which has closed the connection, ignores it. So the leases must end only once the
   * connection has shut down (its shutdown listeners run then, in the order they were added): what
   * the worker announces for the tasks it stops there, their {@code requeued}, fails to publish and
   * waits for the recovery. Before, the leases ended in the consumer channel's shutdown listener,
   * before the connection's, and a worker's {@code requeued} could be lost (ControlIT).
   */
  @Test
  void aLostConnectionsLeasesEndOnceItHasShutDownAndWhatTheLossAnnouncesWaitsForTheRecovery(
      TestBroker broker) throws Exception {
    String queue = declareDefaultQueue(broker);
    EventLog log = EventLog.open(broker);
    String name = "announces-loss-" + broker.namespace();
    Connection connection = open(broker, name);
    CountDownLatch shutDown = new CountDownLatch(1);
    connection.addShutdownListener(cause -> shutDown.countDown());
    EventPublisher events =
        broker.own(
            new EventPublisher(
                connection,
                broker.topology(),
                "lossy",
                EventLevel.ALL,
                e -> {},
                () -> {},
                Duration.ofSeconds(60),
                EventPublisher.Gathering.REAL));
    List<Lease> leases = new CopyOnWriteArrayList<>();
    List<Boolean> shutDownWhenLost = new CopyOnWriteArrayList<>();
    TaskConsumer consumer =
        consumer(
            broker,
            connection,
            queue,
            leases::add,
            scope -> {
              shutDownWhenLost.add(shutDown.getCount() == 0);
              // What a stopped task announces.
              events.worker(WorkerEvent.HEARTBEAT, List.of("lost"), "host", 1);
            });
    consumer.start();
    publishNoop(broker);
    Awaitility.await().until(() -> leases.size() == 1);

    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed(name, 1);

    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                log.workers().stream()
                    .anyMatch(e -> "lossy".equals(e.worker()) && e.tasks().contains("lost")));
    assertThat(shutDownWhenLost)
        .as("the connection had shut down (every channel closed) when the leases ended")
        .containsExactly(true);
    assertThat(leases.getFirst().lost()).isTrue();
    assertThat(leases.getFirst().scope().lostWithConnection()).isTrue();
  }

  /** A pause or resume can come (as a control command) while the worker is still starting. */
  @Test
  void aConsumerPausedBeforeItStartsTakesNothingUntilResumed(TestBroker broker) throws Exception {
    String queue = declareDefaultQueue(broker);
    List<Lease> leases = new CopyOnWriteArrayList<>();
    TaskConsumer consumer = consumer(broker, broker.connection(), queue, leases::add, lost -> {});
    consumer.resume(); // before start: nothing to resume yet
    consumer.pause();
    consumer.start();
    publishNoop(broker);

    assertThat(consumer.consuming()).isFalse();
    assertThat(broker.consumerCount(queue)).as("consumers of the task queue while paused").isZero();
    consumer.resume();
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> leases.size() == 1);
  }

  /** A consumer of the default queue, as a worker of concurrency 4 has; the test owns it. */
  private static TaskConsumer consumer(
      TestBroker broker,
      Connection connection,
      String queue,
      Consumer<Lease> intake,
      Consumer<LeaseScope> lost) {
    ScheduledExecutorService reopener = broker.own(Executors.newSingleThreadScheduledExecutor());
    TaskConsumer consumer =
        broker.own(
            new TaskConsumer(
                connection,
                broker.topology(),
                "default",
                AckWindow.Gathering.of(4, 4, reopener),
                intake,
                lost,
                reopener));
    consumeAgainOnRecovery(connection, consumer);
    return consumer;
  }

  /**
   * A connection like a worker's: amqp-client's recovery leaves the task queue's consumer out, and
   * {@link #consumeAgainOnRecovery} consumes again.
   */
  private static Connection open(TestBroker broker, String name) throws Exception {
    return broker.own(
        new BrokerConnector(broker.settings())
            .recoveringConsumersExcept(broker.names().taskQueue("default")::equals)
            .connect(name));
  }

  /** What the worker's {@code Reconnection} does, less hearing the commands first. */
  private static void consumeAgainOnRecovery(Connection connection, TaskConsumer consumer) {
    ((Recoverable) connection)
        .addRecoveryListener(
            new RecoveryListener() {
              @Override
              public void handleRecovery(Recoverable recoverable) {
                try {
                  consumer.consumeAgain();
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              }

              @Override
              public void handleRecoveryStarted(Recoverable recoverable) {}
            });
  }

  private static java.util.Map<String, ?> recordedConsumers(Connection connection) {
    return ((com.rabbitmq.client.impl.recovery.AutorecoveringConnection) connection)
        .getRecordedConsumers();
  }

  /** The core topology and the default task queue; returns the queue's broker name. */
  private static String declareDefaultQueue(TestBroker broker) {
    return broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          return broker.topology().declareTaskQueue(ch, "default");
        });
  }

  /** One noop task into the default queue, confirmed. */
  private static void publishNoop(TestBroker broker) {
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().tasksExchange(),
              "default",
              null,
              "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          return null;
        });
  }

  private static boolean redelivery(Lease lease) {
    return lease.props().getHeaders() != null
        && lease.props().getHeaders().containsKey(Headers.DELIVERY_COUNT);
  }
}
