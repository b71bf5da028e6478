package dev.conveyor.testkit;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import java.util.concurrent.CountDownLatch;

/** A connection's automatic recovery, for tests that cut a connection and go on once it is back. */
public final class Recoveries {
  private Recoveries() {}

  /**
   * A latch released when {@code connection}'s next recovery is complete: after amqp-client has
   * recovered its channels, consumers and topology. Register it before the cut.
   */
  public static CountDownLatch next(Connection connection) {
    CountDownLatch recovered = new CountDownLatch(1);
    ((Recoverable) connection)
        .addRecoveryListener(
            new RecoveryListener() {
              @Override
              public void handleRecovery(Recoverable recoverable) {
                recovered.countDown();
              }

              @Override
              public void handleRecoveryStarted(Recoverable recoverable) {}
            });
    return recovered;
  }
}
