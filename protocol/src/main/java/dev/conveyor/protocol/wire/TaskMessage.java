package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/**
 * A task as it travels through {@code ns.tasks}. Only {@code type} is required on the wire; the
 * accessors below give the effective values so that no caller re-implements the defaults.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
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
}
