package dev.conveyor.worker.isolation;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.api.CancellationToken;
import dev.conveyor.worker.execution.JsonTaskContext;
import dev.conveyor.worker.execution.Token;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A task context the test stops ({@link #token}) and kills ({@link #kill}) itself. */
final class Context implements JsonTaskContext {
  final Token token = new Token();
  final List<Runnable> killHooks = new CopyOnWriteArrayList<>();
  volatile double progress = -1;
  private final String type;
  private final JsonNode payload;

  Context(String type, String payloadJson) {
    this.type = type;
    try {
      this.payload = Wire.JSON.readTree(payloadJson);
    } catch (Exception e) {
      throw new IllegalArgumentException(payloadJson, e);
    }
  }

  void kill() {
    killHooks.forEach(Runnable::run);
  }

  @Override
  public String taskId() {
    return "t-" + type;
  }

  @Override
  public String type() {
    return type;
  }

  @Override
  public JsonNode payloadTree() {
    return payload;
  }

  @Override
  public int attempt() {
    return 1;
  }

  @Override
  public int maxAttempts() {
    return 1;
  }

  @Override
  public CancellationToken token() {
    return token;
  }

  @Override
  public void onKill(Runnable action) {
    killHooks.add(action);
  }

  @Override
  public void progress(double fraction) {
    progress = fraction;
  }
}
