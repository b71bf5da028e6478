package dev.conveyor.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.ConnectionFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class PrivateBrokerIT {

  @Test
  void aPrivateNodeRestartsAndAlarmsAndGoesAwayLeavingTheDefaultNodeAlone() throws Exception {
    boolean defaultNodeUp = listening(5672);
    Path dir;
    int port;
    try (PrivateBroker rabbit = PrivateBroker.start()) {
      dir = rabbit.directory();
      port = rabbit.amqpPort();
      assertThat(port).isNotEqualTo(5672);
      assertThat(rabbit.node()).startsWith("conveyor-test-").endsWith("@localhost");
      TestBroker ns = rabbit.testBroker();
      String queue = ns.useQueue("default");
      ns.withConfirms(
          ch -> {
            ns.topology().declareCore(ch);
            ns.topology().declareTaskQueue(ch, "default");
            ch.basicPublish(
                ns.names().tasksExchange(),
                "default",
                null,
                "kept".getBytes(StandardCharsets.UTF_8));
            return null;
          });
      // A quorum queue's counts reach list_queues a moment after the confirm.
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> rabbit.queue(queue).equals(new QueueCounts(1, 0)));

      rabbit.stopApp();
      assertThat(acceptsAmqp(port)).isFalse();
      rabbit.startApp();
      assertThat(acceptsAmqp(port)).isTrue();
      // After start_app the quorum queue recovers, and rabbitmqctl answers in seconds on a busy
      // machine: generous, as only a lost message would never come.
      Awaitility.await("a quorum queue keeps its messages")
          .atMost(Duration.ofSeconds(60))
          .until(() -> rabbit.queue(queue).ready() == 1);

      rabbit.setMemoryWatermark(0.00001);
      Awaitility.await().atMost(Duration.ofSeconds(60)).until(rabbit::alarmed);
      rabbit.setMemoryWatermark(0.4);
      Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> !rabbit.alarmed());
    }
    assertThat(dir).doesNotExist();
    assertThat(listening(port)).isFalse();
    assertThat(listening(5672)).as("the default node").isEqualTo(defaultNodeUp);
  }

  private static boolean acceptsAmqp(int port) {
    ConnectionFactory f = new ConnectionFactory();
    f.setPort(port);
    f.setConnectionTimeout(2000);
    try (var c = f.newConnection()) {
      return c.isOpen();
    } catch (IOException | java.util.concurrent.TimeoutException e) {
      return false;
    }
  }

  private static boolean listening(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
