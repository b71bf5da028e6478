package dev.conveyor.worker.api;

/**
 * Thrown by a handler for input that can never succeed (a disallowed command, a bad payload): the
 * task is dead-lettered as {@code rejected} at once instead of being retried.
 */
public class TaskRejectedException extends Exception {
  public TaskRejectedException(String reason) {
    super(reason);
  }
}
