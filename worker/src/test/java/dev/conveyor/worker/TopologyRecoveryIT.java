package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.impl.ForgivingExceptionHandler;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.topology.Permissions;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * amqp-client's recovery as every program sets it up ({@link BrokerConnector}). What the programs
 * declare at start on a channel they then close (the namespace's exchanges) is not declared again,
 * which could only fail on the closed channel: the producer printed three errors with their stack
 * traces on every reconnect. What was declared on a channel still open is recovered as before. And
 * what the recovery could not do is told in one line each, with the broker's reason.
 */
@ExtendWith(BrokerExtension.class)
class TopologyRecoveryIT {

  @Test
  void whatWasDeclaredOnAChannelSinceClosedIsNotDeclaredAgainInVain(TestBroker broker)
      throws Exception {
    String name = "closed-" + broker.namespace();
    Connection connection = broker.open(name);
    try (Channel declaring = connection.createChannel()) {
      broker.topology().declareCore(declaring);
    }
    Channel open = connection.createChannel();
    String queue = broker.namespace() + ".recovered";
    open.queueDeclare(queue, false, true, false, null); // exclusive: gone with the connection
    open.queueBind(queue, broker.names().eventsExchange(), "#");

    try (LogCapture amqpClient = LogCapture.of(ForgivingExceptionHandler.class)) {
      CountDownLatch recovered = Recoveries.next(connection);
      new BrokerAdmin(broker.uri()).closeConnectionsOnceListed(name, 1);
      assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();

      assertThat(amqpClient.warnings()).noneMatch(line -> line.startsWith("ERROR"));
    }
    // Declared and bound again after the cut.
    assertThat(new BrokerAdmin(broker.uri()).queuesBoundTo(broker.names().eventsExchange()))
        .contains(queue);
  }

  /**
   * A declaration the broker refuses on recovery (after the loss of a cluster node a queue's record
   * outlives it, and the broker answers 404) is told in one line with the broker's reason, at
   * amqp-client's level and on its logger: amqp-client printed each with some twenty lines of its
   * own stack. Held open: the queue is made again with other arguments as the recovery starts, so
   * the broker refuses its declaration.
   */
  @Test
  void aRecoveryTheBrokerRefusesIsToldInOneLineWithTheBrokersReason(TestBroker broker)
      throws Exception {
    String name = "refused-" + broker.namespace();
    String queue = broker.namespace() + ".kept";
    Connection connection = broker.open(name);
    Channel ch = connection.createChannel();
    ch.queueDeclare(queue, true, false, false, null);
    Recoveries.conflictAtStart(broker, connection, queue, Map.of("x-max-length", 10));

    try (LogCapture amqpClient = LogCapture.of(ForgivingExceptionHandler.class)) {
      CountDownLatch recovered = Recoveries.next(connection);
      new BrokerAdmin(broker.uri()).closeConnectionsOnceListed(name, 1);
      assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();

      assertThat(amqpClient.warnings())
          .filteredOn(line -> line.contains(queue))
          .singleElement()
          .asString()
          .startsWith(
              "ERROR reconnected, but could not declare queue "
                  + queue
                  + " again: PRECONDITION_FAILED - inequivalent arg 'x-max-length'");
      assertThat(amqpClient.withStackTraces()).filteredOn(line -> line.contains(queue)).isEmpty();
    } finally {
      broker.withChannel(other -> other.queueDelete(queue));
    }
  }

  /**
   * A reconnection the broker refuses (here the user's password changed while the connection was
   * down) is told in one line a try with the broker's reason: amqp-client printed each, one a
   * second, with its stack.
   */
  @Test
  void aReconnectionTheBrokerRefusesIsToldInOneLine(TestBroker broker) throws Exception {
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    String user = "refused-" + broker.namespace();
    Permissions permissions = Permissions.worker(broker.names());
    Connection connection = broker.openAs(user, "pw", permissions);

    try (LogCapture amqpClient = LogCapture.of(ForgivingExceptionHandler.class)) {
      CountDownLatch recovered = Recoveries.next(connection);
      admin.createUser(user, "another", permissions);
      admin.closeConnectionsOnceListed(user, 1);
      Awaitility.await("a refused reconnection told")
          .atMost(Duration.ofSeconds(30))
          .until(() -> amqpClient.warnings().stream().anyMatch(line -> line.contains(user)));
      admin.createUser(user, "pw", permissions);
      assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();

      assertThat(amqpClient.warnings())
          .filteredOn(line -> line.contains(user))
          .allSatisfy(
              line ->
                  assertThat(line)
                      .startsWith("ERROR could not reconnect to the broker (" + user + "): ")
                      .contains("ACCESS_REFUSED"));
      assertThat(amqpClient.withStackTraces()).isEmpty();
    }
  }
}
