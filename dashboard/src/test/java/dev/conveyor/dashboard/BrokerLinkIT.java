package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import com.rabbitmq.client.impl.ForgivingExceptionHandler;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The dashboard's link to the broker, against the real broker. */
@ExtendWith(BrokerExtension.class)
class BrokerLinkIT {

  /**
   * amqp-client's recovery declares everything again on the channel that declared it: the control
   * log, which the dashboard's commands go through, must be declared on a channel that lives as
   * long as the link, or each reconnection logs an error for it (it was declared on one closed at
   * once).
   */
  @Test
  void aLinkThatReconnectsDeclaresItsTopologyAgainWithoutAnError(TestBroker broker)
      throws Exception {
    try (LogCapture recovery = LogCapture.of(ForgivingExceptionHandler.class);
        BrokerLink link = BrokerLink.open(broker.settings(), e -> {}, s -> {})) {
      CountDownLatch recovered = new CountDownLatch(1);
      ((Recoverable) link.connection())
          .addRecoveryListener(
              new RecoveryListener() {
                @Override
                public void handleRecovery(Recoverable r) {
                  recovered.countDown();
                }

                @Override
                public void handleRecoveryStarted(Recoverable r) {}
              });
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      // The management API lists a connection only once its first statistics are in.
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> admin.closeConnections("conveyor-dashboard " + broker.namespace()) == 1);

      assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();
      assertThat(recovery.warnings()).filteredOn(w -> w.contains(broker.namespace())).isEmpty();
    }
  }
}
