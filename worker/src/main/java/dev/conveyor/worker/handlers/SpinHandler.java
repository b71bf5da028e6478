package dev.conveyor.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;
import dev.conveyor.worker.api.TaskRejectedException;

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
  public Object handle(TaskContext ctx) throws TaskRejectedException {
    long span = PayloadSeconds.nanos(ctx.payload(JsonNode.class), type(), 1);
    long start = System.nanoTime();
    long spins = 0;
    while (System.nanoTime() - start < span) {
      Thread.onSpinWait();
      spins++;
    }
    return spins;
  }
}
