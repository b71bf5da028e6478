package dev.conveyor.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;

/**
 * Busy-loops for {@code {"seconds":N}} and ignores both its token and interrupts: the stand-in for
 * a task that only ending its worker can stop.
 */
public final class SpinHandler implements TaskHandler {
  @Override
  public String type() {
    return "spin";
  }

  @Override
  public Object handle(TaskContext ctx) {
    double seconds = ctx.payload(JsonNode.class).path("seconds").asDouble(1);
    long end = System.nanoTime() + (long) (seconds * 1e9);
    long spins = 0;
    while (System.nanoTime() < end) {
      Thread.onSpinWait();
      spins++;
    }
    return spins;
  }
}
