package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(BrokerExtension.class)
class PublishChannelIT {

  /**
   * amqp-client closes a lost connection's channels one by one, in no set order, while the socket
   * is still open, and runs each one's shutdown listeners as it goes. A publish made there on a
   * channel not closed yet would be written as if sent, to a broker that has closed the connection
   * and ignores it; it must fail instead, so that the events thread waits for the recovery. Several
   * publishing channels: without the check, one of them is very likely still open when the listener
   * runs.
   */
  @Test
  void aPublishWhileItsConnectionClosesFailsThoughItsChannelIsNotClosedYet(TestBroker broker)
      throws Exception {
    String name = "closing-" + broker.namespace();
    Connection connection = broker.open(name);
    List<PublishChannel> publishers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      publishers.add(broker.own(new PublishChannel(connection, broker.topology(), false)));
    }
    Channel watched = connection.createChannel();
    List<String> outcomes = new CopyOnWriteArrayList<>();
    CountDownLatch tried = new CountDownLatch(1);
    watched.addShutdownListener(
        cause -> {
          for (PublishChannel p : publishers) {
            try {
              p.publish("", "nowhere", null, "{}".getBytes(StandardCharsets.UTF_8));
              outcomes.add("written");
            } catch (IOException | ShutdownSignalException e) {
              outcomes.add("refused");
            } catch (Exception e) {
              outcomes.add(e.toString());
            }
          }
          tried.countDown();
        });

    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed(name, 1);

    assertThat(tried.await(30, TimeUnit.SECONDS)).isTrue();
    assertThat(outcomes).hasSize(publishers.size()).containsOnly("refused");
  }

  /**
   * Without confirms, a message the broker refuses (here: to an exchange that does not exist; an
   * event over the broker's max_message_size did the same) closes the channel and drops what was
   * published behind it, and nothing said so.
   */
  @Test
  void aChannelTheBrokerClosesIsToldOfAndOpenedAgain(TestBroker broker) throws Exception {
    try (LogCapture log = LogCapture.of(PublishChannel.class)) {
      Connection connection = broker.open("refused-" + broker.namespace());
      PublishChannel events = broker.own(new PublishChannel(connection, broker.topology(), false));
      // Opened after it, as a worker opens others: the number the broker frees is then not the one
      // amqp-client gives the next channel.
      connection.createChannel();
      int known = Recoveries.channelsToRecover(connection);
      byte[] body = "{}".getBytes(StandardCharsets.UTF_8);

      events.publish("no-such-exchange-" + broker.namespace(), "x", null, body);
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !log.warnings().isEmpty());
      assertThat(log.warnings())
          .singleElement()
          .asString()
          .contains("the broker closed the channel this worker publishes events on")
          .contains("NOT_FOUND")
          .contains("events published on it since the one it refused are lost");

      String queue = broker.namespace() + ".refused";
      broker.deleteAfterwards(queue);
      broker.withChannel(ch -> ch.queueDeclare(queue, true, false, true, null));
      events.publish("", queue, null, body);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> broker.messageCount(queue) == 1);
      assertThat(log.warnings()).hasSize(1);
      // The closed channel is not left for amqp-client's recovery to open again, idle.
      assertThat(Recoveries.channelsToRecover(connection)).isEqualTo(known);
    }
  }
}
