package dev.conveyor.worker.api;

/** What a handler knows about the task it runs, and how it cooperates with stop and kill. */
public interface TaskContext {

  String taskId();

  String type();

  /**
   * The task's payload as JSON text; {@code {}} when the producer sent none. For a handler that
   * parses JSON with a library of its own choosing.
   */
  String payloadJson();

  /**
   * The task's payload bound to {@code type} by the worker's JSON mapper (Jackson, which the worker
   * provides at run time: the API itself depends on nothing). Records and classes with public
   * fields or setters are bound by property name, unknown properties ignored; {@code Map.class},
   * {@code List.class}, {@code String.class} and the like work as Jackson maps them, and so does
   * Jackson's own {@code JsonNode.class} for a handler that compiles against Jackson too.
   *
   * @throws IllegalArgumentException if the payload does not fit {@code type} (a handler that wants
   *     such a task dead-lettered at once rethrows it as {@link TaskRejectedException})
   */
  <T> T payload(Class<T> type);

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
