package dev.conveyor.protocol.broker;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import java.util.function.Consumer;

/**
 * Tells the person running a program when its broker connection drops and when amqp-client has
 * brought it back, with what the gap cost: what a program hears while it is disconnected is lost.
 */
public final class Reconnections {
  private Reconnections() {}

  /**
   * @param say called with one line each time, on amqp-client's recovery thread
   * @param lostMeanwhile what the gap cost, said on reconnection
   */
  public static void report(Connection connection, Consumer<String> say, String lostMeanwhile) {
    if (connection instanceof Recoverable recoverable) {
      recoverable.addRecoveryListener(
          new RecoveryListener() {
            @Override
            public void handleRecoveryStarted(Recoverable r) {
              say.accept("lost the connection to the broker; reconnecting");
            }

            @Override
            public void handleRecovery(Recoverable r) {
              say.accept("reconnected to the broker; " + lostMeanwhile);
            }
          });
    }
  }
}
