package dev.conveyor.worker.api;

/** Thrown by a handler that noticed its cancellation token; the worker reports the real cause. */
public class TaskCancelledException extends Exception {
  public TaskCancelledException(String reason) {
    super(reason);
  }
}
