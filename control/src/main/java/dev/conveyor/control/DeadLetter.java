package dev.conveyor.control;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A message in {@code ns.dead}, described from its headers: ours ({@code x-conveyor-*}) where a
 * worker dead-lettered it, else the broker's {@code x-death}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
record DeadLetter(
    String id,
    String type,
    String reason,
    String cause,
    String origin,
    Integer attempts,
    List<String> history,
    String worker,
    int size,
    @JsonIgnore GetResponse message) {

  static DeadLetter of(GetResponse message, Names names) {
    Map<String, Object> headers = message.getProps().getHeaders();
    Map<String, Object> h = headers == null ? Map.of() : headers;
    Map<?, ?> death = firstDeath(h.get("x-death"));
    String reason = text(h.get(Headers.DEAD_REASON));
    if (reason == null && death != null) {
      reason = text(death.get("reason"));
    }
    String origin = text(h.get(Headers.ORIGIN_QUEUE));
    if (origin == null && death != null) {
      origin = names.queueOf(text(death.get("queue"))).orElse(null);
    }
    return new DeadLetter(
        message.getProps().getMessageId(),
        type(message.getBody()),
        reason,
        text(h.get(Headers.DEAD_CAUSE)),
        origin,
        number(h.get(Headers.ATTEMPTS_USED)),
        history(h.get(Headers.HISTORY)),
        text(h.get(Headers.WORKER)),
        message.getBody() == null ? 0 : message.getBody().length,
        message);
  }

  long deliveryTag() {
    return message.getEnvelope().getDeliveryTag();
  }

  private static Map<?, ?> firstDeath(Object xDeath) {
    if (xDeath instanceof List<?> list
        && !list.isEmpty()
        && list.getFirst() instanceof Map<?, ?> m) {
      return m;
    }
    return null;
  }

  private static String type(byte[] body) {
    try {
      JsonNode node = Wire.JSON.readTree(body);
      JsonNode type = node == null ? null : node.get("type");
      return type != null && type.isTextual() ? type.asText() : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static String text(Object value) {
    return value == null ? null : value.toString();
  }

  private static Integer number(Object value) {
    if (value instanceof Number n) {
      return n.intValue();
    }
    try {
      return value == null ? null : Integer.valueOf(value.toString().trim());
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static List<String> history(Object value) {
    if (value instanceof List<?> list) {
      return list.stream().map(String::valueOf).toList();
    }
    if (value == null) {
      return null;
    }
    return Arrays.stream(value.toString().split("\n")).filter(s -> !s.isBlank()).toList();
  }
}
