package dev.conveyor.worker.api;

import com.fasterxml.jackson.databind.JsonNode;

/** What a handler knows about the task it runs, and how it cooperates with stop and kill. */
public interface TaskContext {

  String taskId();

  String type();

  /** The task's payload; an empty object when the producer sent none. */
  JsonNode payload();

  /** 1 for the first attempt. */
  int attempt();

  int maxAttempts();

  CancellationToken token();

  /**
   * Registers what a forced kill must do besides interrupting the handler thread, e.g. kill a child
   * process tree. Runs on the worker's watchdog thread; must not block.
   */
  void onKill(Runnable action);

  /** Reports progress between 0 and 1, shown by {@code control status} and heartbeats. */
  void progress(double fraction);
}
