package dev.conveyor.worker.api;

/**
 * A task type. Implementations are found with {@link java.util.ServiceLoader} in the jars of {@code
 * worker --handlers DIR} (list them in {@code
 * META-INF/services/dev.conveyor.worker.api.TaskHandler}).
 *
 * <p>A handler that returns normally has succeeded; one that throws has failed and is retried while
 * attempts remain. A long handler should check {@link TaskContext#token()} so that stop and
 * deadlines can end it cleanly. A handler that is also {@link AutoCloseable} is closed once the
 * worker has settled its tasks and stopped, so that what it holds (pools, clients) goes with it.
 */
public interface TaskHandler {

  /** The {@code type} of the tasks this handler runs. */
  String type();

  /**
   * Runs one task.
   *
   * @return a result for the {@code succeeded} event (anything Jackson can write), or null
   */
  Object handle(TaskContext context) throws Exception;
}
