package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** What control puts on {@code ns.control}, seen through a queue bound to it. */
@ExtendWith(BrokerExtension.class)
class ControlMessageIT {

  @TempDir Path dir;

  private static String spy(TestBroker broker) {
    return broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          String q = ch.queueDeclare("", false, true, true, null).getQueue();
          ch.queueBind(q, broker.names().controlExchange(), "");
          return q;
        });
  }

  private static List<GetResponse> drain(TestBroker broker, String queue) {
    return broker.withChannel(
        ch -> {
          List<GetResponse> out = new ArrayList<>();
          GetResponse r;
          while ((r = ch.basicGet(queue, true)) != null) {
            out.add(r);
          }
          return out;
        });
  }

  @Test
  void aSignedStopCarriesItsTargetIssuerIdAndSignature(TestBroker broker) throws Exception {
    String queue = spy(broker);
    Path key = Files.writeString(dir.resolve("control.key"), "k3y");

    Control.Result r =
        Control.run(
            broker,
            "stop",
            "--task",
            "t1",
            "t2",
            "--requeue",
            "--no-wait",
            "--discover-timeout",
            "200ms",
            "--control-key-file",
            key.toString());
    assertEquals(0, r.exit(), r::toString);

    List<GetResponse> messages = drain(broker, queue);
    assertEquals(2, messages.size(), "the stop, then the status round that finds live workers");
    ControlSigner signer = new ControlSigner("k3y".getBytes());
    for (GetResponse m : messages) {
      assertEquals("application/json", m.getProps().getContentType());
      assertTrue(signer.verify(m.getBody(), m.getProps().getHeaders().get(Headers.SIGNATURE)));
    }
    GetResponse status = messages.get(1);
    assertEquals("status", Wire.JSON.readTree(status.getBody()).get("command").asText());
    assertTrue(status.getProps().getReplyTo().startsWith("amq.rabbitmq.reply-to"));

    GetResponse stop = messages.get(0);
    JsonNode body = Wire.JSON.readTree(stop.getBody());
    assertEquals(stop.getProps().getMessageId(), body.get("id").asText());
    assertEquals("stop", body.get("command").asText());
    assertEquals("{\"tasks\":[\"t1\",\"t2\"]}", body.get("target").toString());
    assertTrue(body.get("requeue").asBoolean());
    assertEquals(Issuer.current(), body.get("issuedBy").asText());
    Instant issuedAt = Instant.parse(body.get("issuedAt").asText());
    assertTrue(Duration.between(issuedAt, Instant.now()).abs().toSeconds() < 30);
    assertTrue(r.out().contains(body.get("id").asText()), r::toString);
  }

  @Test
  void withoutAKeyThereIsNoSignature(TestBroker broker) throws Exception {
    String queue = spy(broker);
    Control.Result r =
        Control.run(broker, "pause", "--worker", "w1", "--no-wait", "--discover-timeout", "200ms");
    assertEquals(1, r.exit(), "w1 is not there: " + r);

    List<GetResponse> messages = drain(broker, queue);
    assertEquals(2, messages.size());
    JsonNode status = Wire.JSON.readTree(messages.get(1).getBody());
    assertEquals("status", status.get("command").asText(), "the command goes out first");
    assertEquals("{\"workers\":[\"w1\"]}", status.get("target").toString());
    GetResponse pause = messages.get(0);
    JsonNode body = Wire.JSON.readTree(pause.getBody());
    assertEquals("pause", body.get("command").asText());
    assertFalse(body.get("requeue").asBoolean());
    assertNotNull(pause.getProps().getMessageId());
    assertTrue(
        pause.getProps().getHeaders() == null
            || !pause.getProps().getHeaders().containsKey(Headers.SIGNATURE));
  }

  @Test
  void stopAndKillKeepTheControlLogSoThatLaterWorkersSeeRevocations(TestBroker broker) {
    Control.Result r =
        Control.run(broker, "stop", "--task", "later", "--no-wait", "--discover-timeout", "200ms");
    assertEquals(0, r.exit(), r::toString);
    // A passive declaration: it throws if the stream is not there.
    assertDoesNotThrow(() -> broker.messageCount(broker.names().controlLog()));
  }
}
