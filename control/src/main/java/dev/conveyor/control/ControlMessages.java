package dev.conveyor.control;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Builds control messages and their AMQP properties (docs/protocol.md). Public for the dashboard,
 * which publishes the same commands on behalf of its users.
 */
public final class ControlMessages {
  private ControlMessages() {}

  static ControlMessage create(Command command, Target target, boolean requeue) {
    return create(command, target, requeue, Issuer.current());
  }

  /** A new control message issued now by {@code issuedBy} (repeated in events: the audit trail). */
  public static ControlMessage create(
      Command command, Target target, boolean requeue, String issuedBy) {
    return new ControlMessage(Ids.newId(), command, target, requeue, Instant.now(), issuedBy);
  }

  /**
   * The properties of a published control message: {@code message_id} = id, JSON, and with a key
   * the HMAC of the exact body bytes. {@code replyTo} is set for {@code status} only.
   */
  public static AMQP.BasicProperties properties(
      ControlMessage message, byte[] body, Optional<ControlSigner> signer, String replyTo) {
    Map<String, Object> headers = new HashMap<>();
    signer.ifPresent(s -> headers.put(Headers.SIGNATURE, s.sign(body)));
    AMQP.BasicProperties.Builder b =
        new AMQP.BasicProperties.Builder()
            .messageId(message.id())
            .contentType(Wire.CONTENT_TYPE)
            .timestamp(Date.from(message.issuedAt()))
            .headers(headers);
    if (replyTo != null) {
      b.replyTo(replyTo).correlationId(message.id());
    } else {
      b.deliveryMode(2);
    }
    return b.build();
  }

  /** The signer for the configured control key, if any; an unreadable key file is a usage error. */
  public static Optional<ControlSigner> signer(BrokerSettings settings) {
    return settings.controlKeyFile().map(ControlSigner::fromFile);
  }
}
