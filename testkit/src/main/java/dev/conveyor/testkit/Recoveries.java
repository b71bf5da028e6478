package dev.conveyor.testkit;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

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

  /**
   * Runs {@code action} on the recovery's thread as each of {@code connection}'s recoveries starts,
   * before amqp-client declares anything again: a window held open, to change what the recovery
   * finds on the broker.
   */
  public static void atStart(Connection connection, Runnable action) {
    ((Recoverable) connection)
        .addRecoveryListener(
            new RecoveryListener() {
              @Override
              public void handleRecovery(Recoverable recoverable) {}

              @Override
              public void handleRecoveryStarted(Recoverable recoverable) {
                action.run();
              }
            });
  }

  /**
   * As {@code connection}'s next recovery starts, and only then, makes {@code queue} again with
   * {@code arguments} (durable, not exclusive, kept): where the recovery declares it otherwise, the
   * broker refuses that declaration (406) and closes the channel, as it answers 404 after the loss
   * of the node a queue lived on. The refusal holds until the test deletes the queue.
   */
  public static void conflictAtStart(
      TestBroker broker, Connection connection, String queue, Map<String, Object> arguments) {
    AtomicBoolean planted = new AtomicBoolean();
    atStart(
        connection,
        () -> {
          if (planted.compareAndSet(false, true)) {
            broker.withChannel(
                ch -> {
                  ch.queueDelete(queue);
                  return ch.queueDeclare(queue, true, false, false, arguments);
                });
          }
        });
  }

  /**
   * How many channels amqp-client would open again at {@code connection}'s next recovery: every
   * channel it has not forgotten, open or closed by the broker. Read from amqp-client's own table,
   * which it does not expose.
   */
  public static int channelsToRecover(Connection connection) {
    try {
      java.lang.reflect.Field channels =
          com.rabbitmq.client.impl.recovery.AutorecoveringConnection.class.getDeclaredField(
              "channels");
      channels.setAccessible(true);
      return ((java.util.Map<?, ?>) channels.get(connection)).size();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("amqp-client's table of channels is not where it was", e);
    }
  }
}
