package dev.conveyor.worker.execution;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.api.TaskContext;
import java.io.UncheckedIOException;

/**
 * The worker's side of a {@link TaskContext}: the payload as the Jackson tree it arrived as. The
 * API (conveyor-api) has no dependencies, so it offers the payload as text and bound to a type;
 * both come from this tree.
 */
public interface JsonTaskContext extends TaskContext {

  /** The payload tree; an empty object when the producer sent none. */
  JsonNode payloadTree();

  @Override
  default String payloadJson() {
    try {
      return Wire.JSON.writeValueAsString(payloadTree());
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e); // a tree read from JSON always writes
    }
  }

  @Override
  default <T> T payload(Class<T> type) {
    JsonNode tree = payloadTree();
    if (type.isInstance(tree)) {
      return type.cast(tree);
    }
    return Wire.JSON.convertValue(tree, type);
  }
}
