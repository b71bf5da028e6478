package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.LongString;
import com.rabbitmq.client.impl.LongStringHelper;
import dev.conveyor.control.dead.DeadLetter;
import dev.conveyor.protocol.topology.Names;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DeadLetterTest {

  private static final Names NAMES = new Names("ns");

  private static LongString s(String v) {
    return LongStringHelper.asLongString(v);
  }

  private static GetResponse message(Map<String, Object> headers, String body) {
    AMQP.BasicProperties props =
        new AMQP.BasicProperties.Builder()
            .messageId("m1")
            .contentType("application/json")
            .headers(headers)
            .build();
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return new GetResponse(new Envelope(7, false, "ns.dead", ""), props, bytes, 0);
  }

  @Test
  void ourHeadersComeFirst() {
    DeadLetter d =
        DeadLetter.of(
            message(
                Map.of(
                    "x-conveyor-reason", s("handler threw: boom"),
                    "x-conveyor-cause", s("handler"),
                    "x-conveyor-queue", s("emails"),
                    "x-conveyor-attempts-used", 3,
                    "x-conveyor-history", List.of(s("1 failed"), s("2 failed")),
                    "x-death", List.of(Map.of("reason", s("rejected"), "queue", s("ns.q.x")))),
                "{\"type\":\"send\",\"payload\":{}}"),
            NAMES);
    assertEquals("m1", d.id());
    assertEquals("send", d.type());
    assertEquals("handler threw: boom", d.reason());
    assertEquals("handler", d.cause());
    assertEquals("emails", d.origin());
    assertEquals(3, d.attempts());
    assertEquals(List.of("1 failed", "2 failed"), d.history());
    assertEquals(7, d.deliveryTag());
  }

  @Test
  void otherwiseTheBrokersDeathRecordTells() {
    DeadLetter d =
        DeadLetter.of(
            message(
                Map.of(
                    "x-death",
                    List.of(
                        Map.of("reason", s("delivery_limit"), "queue", s("ns.q.default")),
                        Map.of("reason", s("rejected"), "queue", s("ns.q.other")))),
                "not json"),
            NAMES);
    assertEquals("delivery_limit", d.reason());
    assertEquals("default", d.origin());
    assertNull(d.type());
    assertNull(d.cause());
    assertEquals(8, d.size());
  }

  @Test
  void replayDropsTheHeadersOfItsPreviousLife() {
    AMQP.BasicProperties props =
        new AMQP.BasicProperties.Builder()
            .messageId("m1")
            .contentType("application/json")
            .expiration("1000")
            .headers(
                Map.of(
                    "x-conveyor-reason", s("r"),
                    "x-conveyor-attempts-used", 2,
                    "x-death", List.of(),
                    "x-delivery-count", 4,
                    "x-first-death-reason", s("rejected"),
                    "trace-id", s("abc")))
            .build();
    AMQP.BasicProperties fresh = DeadReplayCommand.fresh(props);
    assertEquals(Set.of("trace-id"), fresh.getHeaders().keySet());
    assertEquals("m1", fresh.getMessageId());
    assertEquals("application/json", fresh.getContentType());
    assertEquals(2, fresh.getDeliveryMode());
    assertNull(fresh.getExpiration());
  }
}
