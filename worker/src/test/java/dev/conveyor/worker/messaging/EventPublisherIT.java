package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.topology.Permissions;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Events published while the broker is unreachable wait for amqp-client's recovery, in order, for
 * up to the outage wait (30 s in a worker); after that they are dropped and counted, and the
 * publisher goes on once the broker is back. The outage is made by deleting the publisher's user
 * and closing its connection, so that recovery fails until the user is created again.
 */
@ExtendWith(BrokerExtension.class)
class EventPublisherIT {

  @Test
  void eventsOutlastAShortOutageAndAreDroppedAfterALongOne(TestBroker broker) throws Exception {
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    String user = "events-" + broker.namespace();
    Permissions permissions = Permissions.worker(broker.names());
    URI uri = admin.createUser(user, "pw", permissions);
    broker.own(() -> admin.deleteUser(user));
    String name = "events-outage-" + broker.namespace();
    Connection connection =
        broker.own(
            new BrokerConnector(
                    new BrokerSettings(List.of(uri), broker.namespace(), Optional.empty()))
                .connect(name));
    EventLog log = EventLog.open(broker);
    AtomicInteger dropped = new AtomicInteger();
    // Two publishers on the one connection: one waits out any outage this test makes, the other
    // gives up after 300 ms.
    EventPublisher patient =
        broker.own(
            new EventPublisher(
                connection,
                broker.topology(),
                "patient",
                e -> {},
                dropped::incrementAndGet,
                Duration.ofSeconds(60)));
    EventPublisher hasty =
        broker.own(
            new EventPublisher(
                connection,
                broker.topology(),
                "hasty",
                e -> {},
                dropped::incrementAndGet,
                Duration.ofMillis(300)));

    publish(patient, "before");
    awaitReceived(log, "before");

    cutOff(admin, user, name, connection);
    publish(patient, "kept");
    admin.createUser(user, "pw", permissions);
    awaitReceived(log, "kept");

    cutOff(admin, user, name, connection);
    publish(hasty, "lost");
    await().atMost(Duration.ofSeconds(10)).until(() -> dropped.get() == 1);
    admin.createUser(user, "pw", permissions);
    await().atMost(Duration.ofSeconds(10)).until(connection::isOpen);
    publish(hasty, "after");
    awaitReceived(log, "after");

    // Published in order on one channel: had "lost" gone out, it would have arrived before "after".
    assertThat(received(log)).containsExactly("before", "kept", "after");
    assertThat(dropped).hasValue(1);
  }

  /**
   * Deletes the user, which closes its connection (or the test does), and amqp-client's recovery
   * fails until the user is back.
   */
  private static void cutOff(BrokerAdmin admin, String user, String name, Connection connection) {
    admin.deleteUser(user);
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              if (connection.isOpen()) {
                admin.closeConnections(name);
              }
              return !connection.isOpen();
            });
  }

  /** A heartbeat whose only task id marks it. */
  private static void publish(EventPublisher events, String marker) {
    events.worker(WorkerEvent.HEARTBEAT, List.of(marker), "host", 1);
  }

  private static void awaitReceived(EventLog log, String marker) {
    await().atMost(Duration.ofSeconds(30)).until(() -> received(log).contains(marker));
  }

  private static List<String> received(EventLog log) {
    return log.workers().stream()
        .filter(e -> WorkerEvent.HEARTBEAT.equals(e.state()))
        .flatMap(e -> e.tasks().stream())
        .toList();
  }
}
