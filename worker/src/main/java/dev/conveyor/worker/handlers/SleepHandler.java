package dev.conveyor.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.worker.api.TaskCancelledException;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;
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
    long span = PayloadSeconds.nanos(ctx.payload(JsonNode.class), type(), -1);
    long checkEveryMs = ctx.payload(JsonNode.class).path("checkEveryMs").asLong(0);
    long start = System.nanoTime();
    long left;
    while ((left = span - (System.nanoTime() - start)) > 0) {
      if (checkEveryMs > 0) {
        Thread.sleep(Math.min(checkEveryMs, Math.max(1, left / 1_000_000)));
        ctx.token().throwIfCancelled();
      } else if (ctx.token().await(Duration.ofNanos(left))) {
        throw new TaskCancelledException(ctx.token().reason());
      }
      ctx.progress(Math.min(1, (double) (System.nanoTime() - start) / span));
    }
    return null;
  }
}
