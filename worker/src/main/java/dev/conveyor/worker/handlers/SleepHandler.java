package dev.conveyor.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.worker.api.TaskCancelledException;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;
import dev.conveyor.worker.api.TaskRejectedException;
import java.time.Duration;

/**
 * Sleeps {@code {"seconds":N}}, cooperatively: it waits on its cancellation token, so a stop ends
 * it at once. With {@code "checkEveryMs"} it polls the token at that interval instead, like a
 * handler that checks between units of work.
 */
public final class SleepHandler implements TaskHandler {
  @Override
  public String type() {
    return "sleep";
  }

  @Override
  public Object handle(TaskContext ctx) throws Exception {
    double seconds = ctx.payload(JsonNode.class).path("seconds").asDouble(-1);
    if (seconds < 0) {
      throw new TaskRejectedException("sleep needs a payload {\"seconds\": N} with N >= 0");
    }
    long checkEveryMs = ctx.payload(JsonNode.class).path("checkEveryMs").asLong(0);
    long end = System.nanoTime() + (long) (seconds * 1e9);
    long left;
    while ((left = end - System.nanoTime()) > 0) {
      if (checkEveryMs > 0) {
        Thread.sleep(Math.min(checkEveryMs, Math.max(1, left / 1_000_000)));
        ctx.token().throwIfCancelled();
      } else if (ctx.token().await(Duration.ofNanos(left))) {
        throw new TaskCancelledException(ctx.token().reason());
      }
      ctx.progress(1 - (double) Math.max(0, end - System.nanoTime()) / (seconds * 1e9));
    }
    return null;
  }
}
