package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/** A task lifecycle event, published on {@code ns.events} with routing key {@code task.<state>}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TaskEvent(
    String task,
    String type,
    TaskState state,
    String worker,
    Integer attempt,
    Instant at,
    Long durationMs,
    Cause cause,
    String reason,
    String issuedBy,
    String queue,
    JsonNode result) {

  public String routingKey() {
    return state.routingKey();
  }
}
