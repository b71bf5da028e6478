package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.impl.ForgivingExceptionHandler;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What the programs declare at start on a channel they then close (the namespace's exchanges) is
 * not declared again by amqp-client's recovery, which could only fail on the closed channel: the
 * producer printed three errors with their stack traces on every reconnect ({@link
 * BrokerConnector}). What was declared on a channel still open is recovered as before.
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
}
