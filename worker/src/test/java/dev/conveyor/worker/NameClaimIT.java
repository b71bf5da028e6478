package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.PrivateVhost;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.ops.NameClaim;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two workers with one name in one namespace could not be told apart by {@code control}: the second
 * one refuses to start while the first is connected.
 */
@ExtendWith(BrokerExtension.class)
class NameClaimIT {

  /** How long a test lets a holder keep a name before it counts as a namesake. */
  private static final Duration HELD_BRIEFLY = Duration.ofSeconds(2);

  private static WorkerConfig config(TestBroker broker, String name) {
    return WorkerConfig.defaults(broker.settings())
        .withName(name)
        .withShutdownGrace(Duration.ofSeconds(2));
  }

  @Test
  void aSecondWorkerWithTheSameNameIsRefusedAndTheFirstKeepsServing(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    broker.own(Worker.start(config(broker, "twin")));

    assertThatThrownBy(() -> broker.own(Worker.start(config(broker, "twin"))))
        .isInstanceOf(UsageException.class)
        .hasMessage(
            "a worker named twin is already connected to namespace "
                + broker.namespace()
                + "; give this one another --name (`control status --worker twin` shows where it"
                + " runs)");

    broker.own(Worker.start(config(broker, "other")));
    String id = Broker.task(broker, "{\"type\":\"noop\"}");
    assertThat(events.await(id, TaskState.SUCCEEDED).worker()).isIn("twin", "other");
  }

  @Test
  void theNameIsFreeAgainOnceItsWorkerHasClosed(TestBroker broker) throws Exception {
    Worker first = Worker.start(config(broker, "again"));
    first.close();

    Worker second = broker.own(Worker.start(config(broker, "again")));

    assertThat(second.name()).isEqualTo("again");
  }

  /**
   * amqp-client recovers the connection, not the claim: the worker claims its name again, so that a
   * namesake started after the reconnection is still refused.
   */
  @Test
  void aWorkerClaimsItsNameAgainAfterReconnecting(TestBroker broker) throws Exception {
    String name = "lossy-" + broker.namespace();
    broker.own(Worker.start(config(broker, name)));
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed("conveyor-worker " + name, 1);

    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> heldByAnotherConnection(broker, broker.names().workerName(name)));
    assertThatThrownBy(() -> broker.own(Worker.start(config(broker, name))))
        .isInstanceOf(UsageException.class)
        .hasMessageStartingWith("a worker named " + name + " is already connected");
  }

  /**
   * The broker refuses a claim by closing the channel it was made on; that channel must not stay
   * known to amqp-client, whose recovery would open it again, idle, at every later reconnection
   * (after each reconnection a worker claims its name again, and may be refused each time).
   */
  @Test
  void aRefusedClaimLeavesNoChannelForTheRecoveryToOpenAgain(TestBroker broker) throws Exception {
    String name = "claimed-" + broker.namespace();
    ScheduledExecutorService retries = broker.own(Executors.newSingleThreadScheduledExecutor());
    NameClaim.claim(broker.open(name + "-first"), broker.names(), name, retries);
    Connection second = broker.open(name + "-second");

    assertThatThrownBy(() -> NameClaim.claim(second, broker.names(), name, retries))
        .isInstanceOf(UsageException.class);
    assertThat(Recoveries.channelsToRecover(second)).isZero();
  }

  /**
   * A worker that reconnects may find its name held by the connection it lost: the broker keeps it
   * until it sees it end (a network loss the worker noticed first). Held open here by a connection
   * of the test's that takes the name while the vhost keeps the worker out, then lets it in: the
   * worker claims the name once that connection ends, instead of giving it up for good.
   */
  @Test
  void aWorkerThatReconnectsClaimsItsNameOnceItsLostConnectionHasEnded(TestBroker shared)
      throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri());
        LogCapture claims = LogCapture.of(NameClaim.class)) {
      TestBroker broker = vhost.testBroker();
      String name = "lingering-" + broker.namespace();
      Connection lingering = broker.open("lingering " + name);
      EventLog events = broker.own(EventLog.open(broker));
      broker.own(Worker.start(config(broker, name)));
      // The lost connection also consumed the worker's commands and other workers' word, and
      // would lose what it took.
      AtomicInteger takenByLingering = new AtomicInteger();
      CountDownLatch lingeringEnded = new CountDownLatch(2);
      consumeAsTheLostConnection(
          lingering, broker.names().commandsFor(name), takenByLingering, lingeringEnded);
      consumeAsTheLostConnection(
          lingering, broker.names().requeuedFor(name), takenByLingering, lingeringEnded);

      loseTheConnectionToAHolder(vhost, broker, name, lingering);
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  claims.warnings().stream()
                      .anyMatch(line -> line.contains("after reconnecting: another connection")));
      assertThat(lingeringEnded.await(30, TimeUnit.SECONDS))
          .as("the lost connection's consumers ended")
          .isTrue();
      List<String> commands = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        ControlMessage resume =
            Broker.command(Command.RESUME, new Target.Workers(List.of(name)), false);
        Broker.control(broker, resume);
        commands.add(resume.id());
      }
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> commands.stream().allMatch(id -> !events.applied(id).isEmpty()));
      assertThat(takenByLingering).hasValue(0);
      lingering.close();

      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  claims
                      .all()
                      .contains(
                          "INFO claimed the name "
                              + name
                              + " in namespace "
                              + broker.namespace()
                              + " again"));
      assertThat(claims.all()).noneMatch(line -> line.startsWith("ERROR"));
      assertThatThrownBy(() -> broker.own(Worker.start(config(broker, name))))
          .isInstanceOf(UsageException.class)
          .hasMessageStartingWith("a worker named " + name + " is already connected");
    }
  }

  /**
   * A holder that stays longer than a lost connection can is a namesake: a reconnected worker then
   * says that two workers answer to its name, as it did at once before it waited.
   */
  @Test
  void aNameStillHeldAfterTheWaitIsTakenForANamesakeAfterReconnecting(TestBroker shared)
      throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri());
        LogCapture claims = LogCapture.of(NameClaim.class)) {
      TestBroker broker = vhost.testBroker();
      String name = "twin-" + broker.namespace();
      Connection twin = broker.open("twin " + name);
      ScheduledExecutorService retries = broker.own(Executors.newSingleThreadScheduledExecutor());
      NameClaim.claim(
          broker.open("conveyor-worker " + name), broker.names(), name, retries, HELD_BRIEFLY);

      loseTheConnectionToAHolder(vhost, broker, name, twin);

      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  claims.all().stream()
                      .anyMatch(line -> line.startsWith("ERROR") && line.contains("two workers")));
      assertThat(claims.all())
          .anyMatch(line -> line.contains("after reconnecting: another connection"));
    }
  }

  /**
   * A start that begins again after losing its connection waits for its name (the lost connection
   * may still hold it) for a while, then takes the holder for a namesake, as a first start would.
   */
  @Test
  void aStartThatBeginsAgainTakesALastingHolderForANamesake(TestBroker broker) throws Exception {
    String name = "held-" + broker.namespace();
    ScheduledExecutorService retries = broker.own(Executors.newSingleThreadScheduledExecutor());
    NameClaim.claim(broker.open(name + "-holder"), broker.names(), name, retries);
    Connection again = broker.open(name + "-again");

    try (LogCapture claims = LogCapture.of(NameClaim.class)) {
      assertThatThrownBy(
              () ->
                  NameClaim.claimAfterLoss(
                      again, broker.names(), name, retries, HELD_BRIEFLY, new CountDownLatch(1)))
          .isInstanceOf(UsageException.class)
          .hasMessageStartingWith("a worker named " + name + " is already connected");
      assertThat(claims.warnings())
          .containsExactly(
              "WARN another connection holds the name "
                  + name
                  + " in namespace "
                  + broker.namespace()
                  + ": this worker's lost one, until the broker sees that it ended, or a worker of"
                  + " that name; trying again every 1000 ms");
    }
    CountDownLatch stopped = new CountDownLatch(1);
    stopped.countDown();
    assertThat(
            NameClaim.claimAfterLoss(
                again, broker.names(), name, retries, Duration.ofMinutes(1), stopped))
        .as("a SIGTERM ends the wait")
        .isNull();
  }

  /**
   * Closes the connection named after worker {@code name} from the broker's side while the vhost
   * keeps it from coming back, lets {@code holder} take the name, then lets the connection back.
   */
  private static void loseTheConnectionToAHolder(
      PrivateVhost vhost, TestBroker broker, String name, Connection holder) {
    vhost.limitConnections(0);
    new BrokerAdmin(broker.uri()).closeConnectionsOnceListed("conveyor-worker " + name, 1);
    holdName(holder, broker, name);
    vhost.limitConnections(-1);
  }

  /** Consumes {@code queue} as the worker's lost connection did: counts what it takes. */
  private static void consumeAsTheLostConnection(
      Connection connection, String queue, AtomicInteger taken, CountDownLatch ended)
      throws IOException {
    Channel channel = connection.createChannel();
    channel.basicConsume(
        queue,
        true,
        new DefaultConsumer(channel) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
            taken.incrementAndGet();
          }

          @Override
          public void handleCancel(String tag) {
            ended.countDown();
          }
        });
  }

  /**
   * Holds the name's exclusive queue on {@code connection}, as a worker's claim does, once the
   * broker has deleted the previous holder's.
   */
  static void holdName(Connection connection, TestBroker broker, String name) {
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .until(
            () -> {
              try (Channel channel = connection.createChannel()) {
                channel.queueDeclare(broker.names().workerName(name), false, true, true, Map.of());
                return true;
              }
            });
  }

  /** A passive declaration answers RESOURCE_LOCKED for a queue another connection holds. */
  private static boolean heldByAnotherConnection(TestBroker broker, String queue) {
    try {
      return broker.withChannel(
          ch -> {
            ch.queueDeclarePassive(queue);
            return false;
          });
    } catch (RuntimeException e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof ShutdownSignalException s
            && s.getReason() instanceof AMQP.Channel.Close close) {
          return close.getReplyCode() == 405; // else 404: not there (yet)
        }
      }
      return false;
    }
  }
}
