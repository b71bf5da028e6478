package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.time.Instant;

/**
 * A task as it travels through {@code ns.tasks}. Only {@code type} is required on the wire; the
 * accessors below give the effective values so that no caller re-implements the defaults.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonSerialize(using = TaskMessage.Serializer.class)
public record TaskMessage(
    String id,
    String type,
    JsonNode payload,
    Long timeoutMs,
    Long graceMs,
    Integer maxAttempts,
    Instant expiresAt,
    Instant createdAt) {

  /** One attempt unless the producer asks for retries (docs/design.md). */
  public static final int DEFAULT_MAX_ATTEMPTS = 1;

  public int effectiveMaxAttempts() {
    return maxAttempts == null || maxAttempts < 1 ? DEFAULT_MAX_ATTEMPTS : maxAttempts;
  }

  /**
   * What makes this task unrunnable whatever the worker, or empty. The worker rejects such a task;
   * producers refuse to publish it.
   */
  public java.util.Optional<String> problem() {
    if (type == null || type.isBlank()) {
      return java.util.Optional.of("task has no type");
    }
    if (timeoutMs != null && timeoutMs <= 0) {
      return java.util.Optional.of("timeoutMs must be positive");
    }
    if (graceMs != null && graceMs < 0) {
      return java.util.Optional.of("graceMs must not be negative");
    }
    if (maxAttempts != null && maxAttempts < 1) {
      return java.util.Optional.of("maxAttempts must be at least 1");
    }
    return java.util.Optional.empty();
  }

  public TaskMessage withId(String newId) {
    return new TaskMessage(
        newId, type, payload, timeoutMs, graceMs, maxAttempts, expiresAt, createdAt);
  }

  /**
   * Writes a task field by field, in the record's order, leaving out nulls: what the bean
   * serializer wrote, without its reflective accessors and with the last instant's text remembered,
   * since a producer publishing thousands of tasks a second gives most of them the same {@code
   * createdAt} millisecond. A cold {@code bin/producer} spent a quarter of its publishing thread in
   * the bean serializer (docs/benchmarks.md).
   */
  public static final class Serializer extends StdSerializer<TaskMessage> {

    /** An instant and its text: immutable, so a racing reader sees a whole pair or an older one. */
    private record Formatted(Instant instant, String text) {}

    /** The text of one field's last instant. */
    private static final class LastText {
      private volatile Formatted last = new Formatted(Instant.EPOCH, Instant.EPOCH.toString());

      /**
       * ISO-8601, as {@link Instant#toString()} and Jackson's {@code InstantSerializer} write it.
       */
      String of(Instant instant) {
        Formatted f = last;
        if (!f.instant().equals(instant)) {
          f = new Formatted(instant, instant.toString());
          last = f;
        }
        return f.text();
      }
    }

    /** One per field: a task's {@code expiresAt} and {@code createdAt} differ. */
    private final LastText expiresAt = new LastText();

    private final LastText createdAt = new LastText();

    public Serializer() {
      super(TaskMessage.class);
    }

    @Override
    public void serialize(TaskMessage t, JsonGenerator g, SerializerProvider p) throws IOException {
      g.writeStartObject(t);
      if (t.id != null) {
        g.writeStringField("id", t.id);
      }
      if (t.type != null) {
        g.writeStringField("type", t.type);
      }
      if (t.payload != null) {
        g.writeFieldName("payload");
        t.payload.serialize(g, p);
      }
      if (t.timeoutMs != null) {
        g.writeNumberField("timeoutMs", t.timeoutMs);
      }
      if (t.graceMs != null) {
        g.writeNumberField("graceMs", t.graceMs);
      }
      if (t.maxAttempts != null) {
        g.writeNumberField("maxAttempts", t.maxAttempts);
      }
      if (t.expiresAt != null) {
        g.writeStringField("expiresAt", expiresAt.of(t.expiresAt));
      }
      if (t.createdAt != null) {
        g.writeStringField("createdAt", createdAt.of(t.createdAt));
      }
      g.writeEndObject();
    }
  }
}
