package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.time.Instant;

/** A task lifecycle event, published on {@code ns.events} with routing key {@code task.<state>}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonSerialize(using = TaskEvent.Serializer.class)
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

  /**
   * Writes an event field by field, in the record's order, leaving out nulls: what the bean
   * serializer wrote, without its reflective accessors. A worker encodes one event per task, on the
   * task's thread; with the bean serializer that was 39 % of a task thread's time at the best
   * throughput setting (docs/benchmarks.md).
   */
  public static final class Serializer extends StdSerializer<TaskEvent> {

    public Serializer() {
      super(TaskEvent.class);
    }

    @Override
    public void serialize(TaskEvent e, JsonGenerator g, SerializerProvider p) throws IOException {
      g.writeStartObject(e);
      string(g, "task", e.task);
      string(g, "type", e.type);
      string(g, "state", e.state == null ? null : e.state.wire());
      string(g, "worker", e.worker);
      if (e.attempt != null) {
        g.writeNumberField("attempt", e.attempt);
      }
      string(g, "at", e.at == null ? null : InstantText.of(e.at));
      if (e.durationMs != null) {
        g.writeNumberField("durationMs", e.durationMs);
      }
      string(g, "cause", e.cause == null ? null : e.cause.wire());
      string(g, "reason", e.reason);
      string(g, "issuedBy", e.issuedBy);
      string(g, "queue", e.queue);
      if (e.result != null) {
        g.writeFieldName("result");
        e.result.serialize(g, p);
      }
      g.writeEndObject();
    }

    private static void string(JsonGenerator g, String field, String value) throws IOException {
      if (value != null) {
        g.writeStringField(field, value);
      }
    }
  }
}
