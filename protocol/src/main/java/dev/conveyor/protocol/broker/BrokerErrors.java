package dev.conveyor.protocol.broker;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ShutdownSignalException;
import java.util.Optional;

/**
 * What the broker said. amqp-client reports a refusal (a missing exchange, a declaration that
 * conflicts, an access refused) as an exception whose message is often empty; the broker's own
 * reply text is in the shutdown signal underneath.
 */
public final class BrokerErrors {
  private BrokerErrors() {}

  /** The broker's reply text if the exception comes from a channel or connection it closed. */
  public static Optional<String> refusal(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ShutdownSignalException s) {
        return switch (s.getReason()) {
          case AMQP.Channel.Close close -> Optional.of(close.getReplyText());
          case AMQP.Connection.Close close -> Optional.of(close.getReplyText());
          case null, default -> Optional.empty();
        };
      }
    }
    return Optional.empty();
  }

  /** One line for a person: the broker's reason, else "connection lost", else the message. */
  public static String reason(Throwable e) {
    Optional<String> refused = refusal(e);
    if (refused.isPresent()) {
      return refused.get();
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ShutdownSignalException) {
        return "connection lost";
      }
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
