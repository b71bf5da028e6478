package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.impl.ForgivingExceptionHandler;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
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
      CountDownLatch recovered = Recoveries.next(link.connection());
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      admin.closeConnectionsOnceListed("conveyor-dashboard " + broker.namespace(), 1);

      assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();
      assertThat(recovery.warnings()).filteredOn(w -> w.contains(broker.namespace())).isEmpty();
    }
  }
}
