package dev.conveyor.worker.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.ManualScheduler;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.execution.EscalationLadder;
import dev.conveyor.worker.execution.RunningTasks;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A worker's ear on the control exchange, on its own connection to a real broker. */
@ExtendWith(BrokerExtension.class)
class ControlListenerIT {

  /**
   * A control exchange deleted under a listening worker makes the broker close the channel it hears
   * commands on at the next binding (every 5 s); the worker listens again on a new channel. The
   * closed one must not stay known to amqp-client, whose recovery would open it again, idle, at
   * every reconnection: one more channel on the broker for each such closure.
   */
  @Test
  void theChannelTheBrokerClosedIsNotOpenedAgainByTheRecovery(TestBroker broker) throws Exception {
    Connection connection = broker.open("listener-" + broker.namespace());
    LogCapture log = broker.own(LogCapture.of(ControlListener.class));
    listen(broker, connection);
    // Opened after the listener's, as a worker opens others: the number the broker frees is then
    // not the one amqp-client gives the next channel.
    Channel later = connection.createChannel();
    int known = Recoveries.channelsToRecover(connection);

    new BrokerAdmin(broker.uri()).deleteExchange(broker.names().controlExchange());
    Awaitility.await("listening again")
        .atMost(Duration.ofSeconds(30))
        .until(() -> log.all().stream().anyMatch(l -> l.contains("hears commands again")));

    assertThat(later.isOpen()).isTrue();
    assertThat(Recoveries.channelsToRecover(connection))
        .as("channels amqp-client would open again at the next recovery")
        .isEqualTo(known);
  }

  /**
   * After a reconnection amqp-client declares {@code ns.workers} again, and the broker may refuse
   * (after the loss of the node the queue lived on: 404 while its record is not yet gone) and close
   * the channel the worker is counted on. The worker must consume the queue again once the broker
   * lets it; it stayed uncounted until its next reconnection, so status rounds ended before it
   * answered. Held open: the queue is made again with other arguments as the recovery starts, so
   * the broker refuses the recovery's declaration and the first tries after it.
   */
  @Test
  void aWorkerWhoseCountingTheRecoveryCouldNotRestoreIsCountedAgain(TestBroker broker)
      throws Exception {
    String name = "counted-" + broker.namespace();
    Connection connection = broker.open(name);
    listen(broker, connection);
    String workers = broker.names().workers();
    assertThat(broker.consumerCount(workers)).isEqualTo(1);
    Recoveries.conflictAtStart(broker, connection, workers, null);

    CountDownLatch recovered = Recoveries.next(connection);
    new BrokerAdmin(broker.uri()).closeConnectionsOnceListed(name, 1);
    assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();
    assertThat(broker.consumerCount(workers)).as("consumers of the refused queue").isZero();

    broker.withChannel(ch -> ch.queueDelete(workers));
    Awaitility.await("counted again")
        .atMost(Duration.ofSeconds(20))
        .until(() -> broker.consumerCountOrMissing(workers) == 1);
  }

  /**
   * After a reconnection the worker takes tasks only once {@code catchUp} says that every command
   * queued for it before the call has been applied. Held open: the handler of a {@code pause} waits
   * until the test lets it go, and a catch-up meanwhile must time out, since its marker queues
   * behind that command; then it returns true, the pause applied. Closed, it says false at once.
   */
  @Test
  void catchUpReturnsOnceTheCommandsQueuedBeforeItAreApplied(TestBroker broker) throws Exception {
    CountDownLatch letGo = new CountDownLatch(1);
    CountDownLatch pausing = new CountDownLatch(1);
    AtomicInteger paused = new AtomicInteger();
    Pausable held =
        new Pausable() {
          @Override
          public void pause() {
            pausing.countDown();
            try {
              letGo.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            paused.incrementAndGet();
          }

          @Override
          public void resume() {}

          @Override
          public boolean paused() {
            return paused.get() > 0;
          }
        };
    ControlListener listener = listen(broker, broker.open("catch-up-" + broker.namespace()), held);
    ControlMessage pause =
        new ControlMessage("p1", Command.PAUSE, Target.all(), false, Instant.now(), "test@host");
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().controlExchange(),
              Topology.routingKey(pause),
              null,
              Wire.encode(pause));
          return null;
        });
    assertThat(pausing.await(10, TimeUnit.SECONDS)).as("the pause being applied").isTrue();

    assertThat(listener.catchUp(Duration.ofMillis(300))).as("caught up while held").isFalse();
    letGo.countDown();
    assertThat(listener.catchUp(Duration.ofSeconds(10))).as("caught up").isTrue();
    assertThat(paused.get()).isEqualTo(1);

    listener.close();
    assertThat(listener.catchUp(Duration.ofSeconds(10))).as("caught up once closed").isFalse();
  }

  /**
   * A catch-up while the consumer of commands is being made again (the broker ended it: after a
   * reconnection, its refusal of the recovery's declaration of a queue whose node is down) waits
   * for it within its timeout, rather than saying at once that the worker cannot hear. Held open:
   * the listener's retries, which make the consumer again, run only when the test lets them.
   */
  @Test
  void catchUpWaitsForAConsumerOfCommandsBeingMadeAgain(TestBroker broker) throws Exception {
    ManualScheduler retries = new ManualScheduler();
    ControlListener listener =
        broker.own(
            new ControlListener(
                broker.open("remade-" + broker.namespace()),
                broker.topology(),
                "w1",
                handler(NOTHING_TO_PAUSE),
                retries));
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          return null;
        });
    listener.start();
    int scheduled = retries.pending(); // the binding made again every few seconds
    broker.withChannel(ch -> ch.queueDelete(broker.names().commandsFor("w1")));
    Awaitility.await("the consumer lost, its remaking held")
        .atMost(Duration.ofSeconds(10))
        .until(() -> retries.pending() > scheduled);

    CompletableFuture<Boolean> caughtUp =
        CompletableFuture.supplyAsync(() -> listener.catchUp(Duration.ofSeconds(20)));
    Awaitility.await("the catch-up waiting")
        .during(Duration.ofMillis(300))
        .atMost(Duration.ofSeconds(2))
        .until(() -> !caughtUp.isDone());
    retries.runDue();
    assertThat(caughtUp.get(20, TimeUnit.SECONDS)).as("caught up").isTrue();
  }

  /**
   * A listener on {@code connection}, started, with the core topology declared first as the worker
   * does; closed with its retries' thread after the test.
   */
  private static void listen(TestBroker broker, Connection connection) throws IOException {
    listen(broker, connection, NOTHING_TO_PAUSE);
  }

  /** The same, with the commands' pauses and resumes going to {@code intake}. */
  private static ControlListener listen(TestBroker broker, Connection connection, Pausable intake)
      throws IOException {
    ScheduledExecutorService retries =
        broker.own(
            Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().name("listener-retries").factory()));
    ControlListener listener =
        broker.own(
            new ControlListener(connection, broker.topology(), "w1", handler(intake), retries));
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          return null;
        });
    listener.start();
    return listener;
  }

  private static final Pausable NOTHING_TO_PAUSE =
      new Pausable() {
        @Override
        public void pause() {}

        @Override
        public void resume() {}

        @Override
        public boolean paused() {
          return false;
        }
      };

  /** A handler with nothing running; what it answers is dropped. */
  private static CommandHandler handler(Pausable intake) {
    ManualScheduler timer = new ManualScheduler();
    return new CommandHandler(
        "w1",
        new RunningTasks("w1"),
        new EscalationLadder(timer, Duration.ofSeconds(5), r -> {}, (s, e) -> {}, r -> {}),
        new Revocations(),
        new CommandVerifier(Optional.empty()),
        intake,
        () -> new WorkerStatus("w1", "h", 1, List.of("default"), 1, false, null, List.of()),
        new CommandHandler.Answers() {
          @Override
          public void applied(CommandApplied a) {}

          @Override
          public void refused(CommandRefused r) {}

          @Override
          public void reply(String replyTo, String correlationId, Object body) {}
        },
        new CommandHandler.Observer() {
          @Override
          public void applied(String command) {}

          @Override
          public void refused(String reason) {}
        });
  }
}
