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

  /**
   * Whether the broker closed the channel because a queue cannot be declared under its name: its
   * node is down (404 {@code NOT_FOUND}: a durable classic queue lives on one node) or it exists,
   * declared otherwise (406 {@code PRECONDITION_FAILED}, "inequivalent arg"; not the other 406s,
   * such as a vhost's queue limit, which another name would not escape). Told by the method the
   * broker names in its {@code channel.close}: a {@code queue.declare}, not a binding to a missing
   * exchange.
   */
  public static boolean queueNotDeclarable(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ShutdownSignalException s && s.getReason() instanceof AMQP.Channel.Close c) {
        return c.getClassId() == QUEUE_CLASS
            && c.getMethodId() == QUEUE_DECLARE
            && (c.getReplyCode() == AMQP.NOT_FOUND
                || (c.getReplyCode() == AMQP.PRECONDITION_FAILED
                    && c.getReplyText().contains("inequivalent arg")));
      }
    }
    return false;
  }

  /** AMQP 0-9-1's class and method ids of {@code queue.declare}. */
  private static final int QUEUE_CLASS = 50;

  private static final int QUEUE_DECLARE = 10;

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
