package dev.conveyor.worker.isolation;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * One message between a worker and one of its child JVMs (docs/isolation.md). On the pipe each is a
 * 4-byte big-endian length followed by that many bytes of UTF-8 JSON, named by its {@code frame}
 * property.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "frame")
@JsonSubTypes({
  @JsonSubTypes.Type(value = Frame.Hello.class, name = "hello"),
  @JsonSubTypes.Type(value = Frame.Run.class, name = "run"),
  @JsonSubTypes.Type(value = Frame.Stop.class, name = "stop"),
  @JsonSubTypes.Type(value = Frame.Progress.class, name = "progress"),
  @JsonSubTypes.Type(value = Frame.Log.class, name = "log"),
  @JsonSubTypes.Type(value = Frame.Result.class, name = "result"),
  @JsonSubTypes.Type(value = Frame.Error.class, name = "error"),
})
public sealed interface Frame {

  /** The version of this protocol; a child that says another in its hello is not used. */
  int VERSION = 1;

  /** Child → worker, once, when its handlers are loaded: it is ready for a task. */
  record Hello(int version, long pid, List<String> types) implements Frame {}

  /** Worker → child: run one task. A child runs one at a time. */
  record Run(String taskId, String type, JsonNode payload, int attempt, int maxAttempts)
      implements Frame {}

  /** Worker → child: set the running task's cancellation token. */
  record Stop(String reason) implements Frame {}

  /** Child → worker: the running task's progress, between 0 and 1. */
  record Progress(double fraction) implements Frame {}

  /** Child → worker: one line the child wrote to System.out or System.err (its logging). */
  record Log(String line) implements Frame {}

  /**
   * Child → worker: the task's handler returned this value (JSON; null for none).
   *
   * @param leftOutBytes null, or the size of the frame that would have carried a value too large to
   *     hand back ({@link Frames#MAX_FRAME_BYTES}): then {@code value} is null
   */
  record Result(JsonNode value, Long leftOutBytes) implements Frame {
    public Result(JsonNode value) {
      this(value, null);
    }
  }

  /**
   * Child → worker: the task's handler threw.
   *
   * @param kind {@code rejected} (TaskRejectedException), {@code cancelled}
   *     (TaskCancelledException) or {@code failed} (anything else)
   */
  record Error(String kind, String message) implements Frame {
    public static final String REJECTED = "rejected";
    public static final String CANCELLED = "cancelled";
    public static final String FAILED = "failed";
  }
}
