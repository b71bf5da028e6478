package dev.conveyor.worker.handlers;

import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;

/** Does nothing: for smoke tests and for measuring the worker's own overhead. */
public final class NoopHandler implements TaskHandler {
  @Override
  public String type() {
    return "noop";
  }

  @Override
  public Object handle(TaskContext context) {
    return null;
  }
}
