package dev.conveyor.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;

/** Always throws {@code {"message":"…"}}: for exercising retries and dead-lettering. */
public final class FailHandler implements TaskHandler {

  /** The failure a {@code fail} task reports. */
  public static final class RequestedFailure extends RuntimeException {
    public RequestedFailure(String message) {
      super(message);
    }
  }

  @Override
  public String type() {
    return "fail";
  }

  @Override
  public Object handle(TaskContext ctx) {
    throw new RequestedFailure(
        ctx.payload(JsonNode.class).path("message").asText("failed as requested"));
  }
}
