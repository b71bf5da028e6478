package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlMessagesTest {

  @TempDir Path dir;

  private static BrokerSettings settings(Path keyFile) {
    return new BrokerSettings(
        List.of(URI.create("amqp://localhost")), "conveyor", Optional.ofNullable(keyFile));
  }

  @Test
  void issuedByIsUserAtHost() {
    String issuer = Issuer.current();
    assertTrue(issuer.matches("[^@\\s]+@[^@\\s]+"), issuer);
    assertTrue(issuer.startsWith(System.getProperty("user.name") + "@"), issuer);
  }

  @Test
  void aMessageHasAFreshIdTheIssuerAndTheTimeOfIssue() {
    ControlMessage m = ControlMessages.create(Command.STOP, new Target.Tasks(List.of("t1")), true);
    assertFalse(m.id().isBlank());
    assertEquals(Issuer.current(), m.issuedBy());
    assertTrue(Duration.between(m.issuedAt(), Instant.now()).abs().toSeconds() < 5);
    assertTrue(m.requeue());
    assertEquals(
        "{\"id\":\"" + m.id() + "\",\"command\":\"stop\",\"target\":{\"tasks\":[\"t1\"]}",
        Wire.toJson(m).substring(0, Wire.toJson(m).indexOf(",\"requeue\"")));
  }

  @Test
  void propertiesCarryTheIdAndContentTypeAndNoSignatureWithoutAKey() {
    ControlMessage m = ControlMessages.create(Command.KILL, Target.all(), false);
    byte[] body = Wire.encode(m);
    AMQP.BasicProperties p = ControlMessages.properties(m, body, Optional.empty(), null);
    assertEquals(m.id(), p.getMessageId());
    assertEquals("application/json", p.getContentType());
    assertNull(p.getReplyTo());
    assertFalse(p.getHeaders().containsKey(Headers.SIGNATURE));
    assertTrue(ControlMessages.signer(settings(null)).isEmpty());
  }

  @Test
  void withAKeyFileTheBodyIsSigned() throws Exception {
    Path key = Files.writeString(dir.resolve("control.key"), "s3cret-key\n");
    Optional<ControlSigner> signer = ControlMessages.signer(settings(key));
    assertTrue(signer.isPresent());

    ControlMessage m = ControlMessages.create(Command.STOP, Target.all(), false);
    byte[] body = Wire.encode(m);
    AMQP.BasicProperties p = ControlMessages.properties(m, body, signer, null);
    Object signature = p.getHeaders().get(Headers.SIGNATURE);
    assertTrue(new ControlSigner("s3cret-key".getBytes()).verify(body, signature));
    assertFalse(new ControlSigner("other".getBytes()).verify(body, signature));
  }

  @Test
  void aStatusRequestAsksForRepliesCorrelatedToItsId() {
    ControlMessage m = ControlMessages.create(Command.STATUS, Target.all(), false);
    AMQP.BasicProperties p =
        ControlMessages.properties(
            m, Wire.encode(m), Optional.empty(), ControlSession.DIRECT_REPLY_TO);
    assertEquals("amq.rabbitmq.reply-to", p.getReplyTo());
    assertEquals(m.id(), p.getCorrelationId());
  }

  @Test
  void aMissingKeyFileIsAUsageError() {
    UsageException e =
        assertThrows(
            UsageException.class,
            () -> ControlMessages.signer(settings(dir.resolve("missing.key"))));
    assertTrue(e.getMessage().contains("missing.key"), e.getMessage());
  }
}
