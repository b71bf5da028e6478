package dev.conveyor.protocol.wire;

import static dev.conveyor.protocol.wire.JsonForms.instant;
import static dev.conveyor.protocol.wire.JsonForms.text;
import static dev.conveyor.protocol.wire.JsonForms.whole;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.conveyor.protocol.wire.JsonForms.OtherForm;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;

/**
 * A task body in the form producers write, read in one pass of the parser: what {@link
 * Wire#decodeTask(JsonNode, String)} makes of the body's tree, without building the tree, which was
 * most of a worker's decoding of a task (docs/benchmarks.md). Only the payload is read as a tree.
 *
 * <p>It reads a body that is one JSON object whose known fields have their JSON types (strings,
 * whole numbers within the field's range, null), with a {@code type} that is not blank and instants
 * {@link Instant#parse} reads; unknown fields are skipped, and of a field given twice the last
 * counts, as in the tree. Any other body — malformed, a value the tree's checks refuse or Jackson
 * reads leniently, anything after the object — gives null and is left to the tree, for its checks
 * and their wording.
 */
final class TaskForm {

  private TaskForm() {}

  /**
   * The task, before its id is completed and its values checked ({@link TaskMessage#problem}); null
   * when the body is not in the form.
   */
  static TaskMessage read(byte[] body, InstantText.Reader expiresAt, InstantText.Reader createdAt) {
    try (JsonParser p = Wire.JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      String id = null;
      String type = null;
      JsonNode payload = null;
      Long timeoutMs = null;
      Long graceMs = null;
      Integer maxAttempts = null;
      Instant expires = null;
      Instant created = null;
      for (String name = p.nextFieldName(); name != null; name = p.nextFieldName()) {
        JsonToken value = p.nextToken();
        switch (name) {
          case "id" -> id = text(p, value);
          case "type" -> {
            type = text(p, value);
            if (type == null || type.isBlank()) {
              return null;
            }
          }
          case "payload" -> {
            // An explicit null stays a NullNode, as in the tree.
            payload = value == JsonToken.VALUE_NULL ? NullNode.getInstance() : p.readValueAsTree();
          }
          case "timeoutMs" -> timeoutMs = whole(p, value);
          case "graceMs" -> graceMs = whole(p, value);
          case "maxAttempts" -> {
            Long n = whole(p, value);
            if (n != null && p.getNumberType() != JsonParser.NumberType.INT) {
              return null;
            }
            maxAttempts = n == null ? null : n.intValue();
          }
          case "expiresAt" -> expires = instant(p, value, expiresAt);
          case "createdAt" -> created = instant(p, value, createdAt);
          default -> p.skipChildren();
        }
      }
      if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null || type == null) {
        return null;
      }
      return new TaskMessage(id, type, payload, timeoutMs, graceMs, maxAttempts, expires, created);
    } catch (OtherForm | IOException | DateTimeParseException e) {
      return null;
    }
  }
}
