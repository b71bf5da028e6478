package dev.conveyor.producer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Objects;

/**
 * Describes a task to publish without spelling out the eight fields of {@link TaskMessage}; unset
 * limits stay off the wire so that the worker's defaults apply.
 *
 * <p>A spec is a template: {@link #build()} mints a new id on every call unless {@link #id} was
 * set, so one spec can publish many tasks.
 */
public final class TaskSpec {

  private final String type;
  private String id;
  private JsonNode payload;
  private Duration timeout;
  private Duration grace;
  private Integer maxAttempts;
  private Instant expiresAt;
  private Duration expiresIn;

  private TaskSpec(String type) {
    this.type = type;
  }

  /**
   * @param type the handler that runs the task, e.g. {@code sleep}
   */
  public static TaskSpec of(String type) {
    if (type == null || type.isBlank()) {
      throw new IllegalArgumentException("task type must not be blank");
    }
    return new TaskSpec(type);
  }

  public TaskSpec id(String id) {
    if (id != null && id.isBlank()) {
      throw new IllegalArgumentException("task id must not be blank");
    }
    this.id = id;
    return this;
  }

  public TaskSpec payload(JsonNode payload) {
    this.payload = payload;
    return this;
  }

  /** Any value Jackson can serialise (a Map, a record, …). */
  public TaskSpec payload(Object payload) {
    JsonNode tree = payload == null ? null : Wire.JSON.valueToTree(payload);
    return payload(tree);
  }

  /** When the watchdog stops the task, counted from its start. */
  public TaskSpec timeout(Duration timeout) {
    if (timeout != null && timeout.toMillis() < 1) {
      throw new IllegalArgumentException("timeout must be at least 1ms");
    }
    this.timeout = timeout;
    return this;
  }

  /** How long a stopped task may take to end before it is killed. */
  public TaskSpec grace(Duration grace) {
    if (grace != null && grace.isNegative()) {
      throw new IllegalArgumentException("grace must not be negative");
    }
    this.grace = grace;
    return this;
  }

  public TaskSpec maxAttempts(Integer maxAttempts) {
    if (maxAttempts != null && maxAttempts < 1) {
      throw new IllegalArgumentException("max attempts must be at least 1");
    }
    this.maxAttempts = maxAttempts;
    return this;
  }

  /** The task is not run (it is {@code expired}) if it has not started by then. */
  public TaskSpec expiresAt(Instant expiresAt) {
    this.expiresAt = expiresAt;
    this.expiresIn = null;
    return this;
  }

  /** Like {@link #expiresAt}, relative to when the task is built. */
  public TaskSpec expiresIn(Duration expiresIn) {
    if (expiresIn != null && expiresIn.toMillis() < 1) {
      throw new IllegalArgumentException("expiry must be at least 1ms");
    }
    this.expiresIn = expiresIn;
    this.expiresAt = null;
    return this;
  }

  public TaskMessage build() {
    return build(Clock.systemUTC());
  }

  public TaskMessage build(Clock clock) {
    Objects.requireNonNull(clock, "clock");
    Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
    return new TaskMessage(
        id != null ? id : Ids.newId(),
        type,
        payload == null || payload instanceof NullNode ? null : payload,
        timeout == null ? null : timeout.toMillis(),
        grace == null ? null : grace.toMillis(),
        maxAttempts,
        expiresIn != null ? now.plus(expiresIn) : expiresAt,
        now);
  }
}
