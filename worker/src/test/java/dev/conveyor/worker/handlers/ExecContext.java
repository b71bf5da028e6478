package dev.conveyor.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.api.CancellationToken;
import dev.conveyor.worker.api.TaskCancelledException;
import dev.conveyor.worker.execution.JsonTaskContext;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The context of one exec task that nobody stops or kills unless the test does: the handler runs on
 * its own, without a worker around it.
 */
final class ExecContext implements JsonTaskContext {
  final List<Runnable> killHooks = new CopyOnWriteArrayList<>();
  private final JsonNode payload;

  private ExecContext(JsonNode payload) {
    this.payload = payload;
  }

  static ExecContext of(String payloadJson) {
    try {
      return new ExecContext(Wire.JSON.readTree(payloadJson));
    } catch (Exception e) {
      throw new IllegalArgumentException(payloadJson, e);
    }
  }

  /** {@code {"command":["/bin/sh","-c",script]}} */
  static ExecContext shell(String script) {
    return new ExecContext(
        Wire.JSON
            .createObjectNode()
            .set("command", Wire.JSON.createArrayNode().add("/bin/sh").add("-c").add(script)));
  }

  @Override
  public String taskId() {
    return "t";
  }

  @Override
  public String type() {
    return "exec";
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
    return NEVER;
  }

  @Override
  public void onKill(Runnable action) {
    killHooks.add(action);
  }

  @Override
  public void progress(double fraction) {}

  private static final CancellationToken NEVER =
      new CancellationToken() {
        @Override
        public boolean isCancelled() {
          return false;
        }

        @Override
        public void throwIfCancelled() throws TaskCancelledException {}

        @Override
        public boolean await(Duration timeout) {
          return false;
        }

        @Override
        public void onCancel(Runnable action) {}

        @Override
        public String reason() {
          return null;
        }
      };
}
