package dev.conveyor.protocol.broker;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.TopologyRecoveryException;
import com.rabbitmq.client.impl.DefaultExceptionHandler;
import com.rabbitmq.client.impl.ForgivingExceptionHandler;
import com.rabbitmq.client.impl.recovery.RecordedBinding;
import com.rabbitmq.client.impl.recovery.RecordedConsumer;
import com.rabbitmq.client.impl.recovery.RecordedEntity;
import com.rabbitmq.client.impl.recovery.RecordedExchange;
import com.rabbitmq.client.impl.recovery.RecordedQueue;
import java.io.IOException;
import java.net.ConnectException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * amqp-client's exception handler, with what its recovery could not do said in one line each: what
 * it tried and the broker's reason. amqp-client logs each with its stack trace, some twenty lines
 * of its own internals, and after the loss of a cluster node a worker printed four of them before
 * it subscribed again by itself; a broker that keeps refusing a reconnection (a password changed, a
 * node that cannot serve) printed one a second. The level and the logger stay amqp-client's, so
 * that a configuration or a watch set up for them keeps working. Everything else (an exception
 * thrown by a consumer, which is a bug worth its stack trace) is amqp-client's default handling.
 */
final class RecoveryFailures extends DefaultExceptionHandler {
  private static final Logger log = LoggerFactory.getLogger(ForgivingExceptionHandler.class);

  @Override
  public void handleConnectionRecoveryException(Connection conn, Throwable exception) {
    if (exception instanceof ConnectException) {
      return; // nothing listens at the address yet: amqp-client says nothing of it either
    }
    String name = conn.getClientProvidedName();
    say("could not reconnect to the broker" + (name == null ? "" : " (" + name + ")"), exception);
  }

  @Override
  public void handleChannelRecoveryException(Channel ch, Throwable exception) {
    say("reconnected, but could not reopen channel " + ch.getChannelNumber(), exception);
  }

  @Override
  public void handleTopologyRecoveryException(
      Connection conn, Channel ch, TopologyRecoveryException exception) {
    say(
        "reconnected, but could not " + attempted(exception.getRecordedEntity()),
        exception.getCause() == null ? exception : exception.getCause());
  }

  /** What the recovery tried to do again with {@code entity}. */
  static String attempted(RecordedEntity entity) {
    return switch (entity) {
      case RecordedQueue q -> "declare queue " + q.getName() + " again";
      case RecordedExchange x -> "declare exchange " + x.getName() + " again";
      case RecordedBinding b -> "bind " + b.getDestination() + " to " + b.getSource() + " again";
      case RecordedConsumer c -> "consume queue " + c.getQueue() + " again";
      case null, default -> "recover what was declared";
    };
  }

  /**
   * One line, at amqp-client's level: a warning for a socket closed or reset under it (expected
   * while a broker goes away), an error for the rest.
   */
  private static void say(String what, Throwable e) {
    String line = what + ": " + Redaction.mask(BrokerErrors.reason(e));
    if (e instanceof IOException
        && ("Connection reset".equals(e.getMessage())
            || "Connection reset by peer".equals(e.getMessage())
            || "Socket closed".equals(e.getMessage()))) {
      log.warn(line);
    } else {
      log.error(line);
    }
  }
}
