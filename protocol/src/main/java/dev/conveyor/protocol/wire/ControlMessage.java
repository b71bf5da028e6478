package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;

/** A broadcast on {@code ns.control}; every worker decides for itself whether it matches. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ControlMessage(
    String id, Command command, Target target, boolean requeue, Instant issuedAt, String issuedBy) {

  /**
   * Whether it revokes tasks by id: a stop or kill that names tasks and does not requeue them. It
   * binds a worker that starts later too (which cancels such a task when it arrives), so the
   * control log keeps it; every other command acts on the workers that hear it.
   */
  public boolean revokesTasks() {
    return (command == Command.STOP || command == Command.KILL)
        && !requeue
        && target instanceof Target.Tasks;
  }

  /** Jackson's streaming writer: no object mapper is built to write a control message. */
  private static final JsonFactory STREAMING = new JsonFactory();

  /**
   * The same document as {@link Wire#encode} (the fields in order, nulls left out), written with
   * Jackson's streaming API. {@code control} publishes a command as soon as it can, and building
   * the object mapper's serializers was the slowest step of its start (docs/benchmarks.md).
   */
  public byte[] toJson() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(160);
    try (JsonGenerator g = STREAMING.createGenerator(out)) {
      g.writeStartObject();
      if (id != null) {
        g.writeStringField("id", id);
      }
      if (command != null) {
        g.writeStringField("command", command.wire());
      }
      if (target != null) {
        g.writeFieldName("target");
        Target.Serializer.write(target, g);
      }
      g.writeBooleanField("requeue", requeue);
      if (issuedAt != null) {
        g.writeStringField("issuedAt", issuedAt.toString());
      }
      if (issuedBy != null) {
        g.writeStringField("issuedBy", issuedBy);
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
