package dev.conveyor.control.dead;

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
 *
 * @param id the task's id, by which list, replay and purge all know it: the body's {@code id} when
 *     it has a usable one (a non-blank string), as the worker names the task in its events; else
 *     the AMQP {@code message_id}; null if neither
 * @param messageId the AMQP {@code message_id} when it is not {@code id}, else null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DeadLetter(
    String id,
    String messageId,
    String type,
    String reason,
    String cause,
    String origin,
    Integer attempts,
    List<String> history,
    String worker,
    int size,
    @JsonIgnore GetResponse message) {

  public static DeadLetter of(GetResponse message, Names names) {
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
    JsonNode body = body(message.getBody());
    String messageId = message.getProps().getMessageId();
    String id = text(body, "id");
    if (id == null || id.isBlank()) {
      id = messageId == null || messageId.isBlank() ? null : messageId;
    }
    return new DeadLetter(
        id,
        messageId == null || messageId.equals(id) ? null : messageId,
        text(body, "type"),
        reason,
        text(h.get(Headers.DEAD_CAUSE)),
        origin,
        number(h.get(Headers.ATTEMPTS_USED)),
        history(h.get(Headers.HISTORY)),
        text(h.get(Headers.WORKER)),
        message.getBody() == null ? 0 : message.getBody().length,
        message);
  }

  public long deliveryTag() {
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

  /** The body as JSON, or null when it is not a JSON object (a rejected, malformed task). */
  private static JsonNode body(byte[] body) {
    try {
      JsonNode node = body == null ? null : Wire.JSON.readTree(body);
      return node != null && node.isObject() ? node : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static String text(JsonNode object, String field) {
    JsonNode value = object == null ? null : object.get(field);
    return value != null && value.isTextual() ? value.asText() : null;
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
