package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;

/**
 * A worker lifecycle event: {@code worker.started|heartbeat|reconnected|stopping|terminating}.
 * Heartbeats also carry {@code running}: each task's type, attempt, age, deadline, stage and
 * progress, so that watchers see progress without asking.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record WorkerEvent(
    String worker,
    String state,
    Instant at,
    List<String> tasks,
    String host,
    Long pid,
    List<WorkerStatus.RunningTask> running) {

  public WorkerEvent(
      String worker, String state, Instant at, List<String> tasks, String host, Long pid) {
    this(worker, state, at, tasks, host, pid, null);
  }

  public static final String STARTED = "started";
  public static final String HEARTBEAT = "heartbeat";

  /**
   * The worker lost its broker connection and has it back. Deliveries the broker had given to that
   * connection came back counted ({@code x-delivery-count}), including some the worker never saw;
   * {@code tasks} are those it was running.
   */
  public static final String RECONNECTED = "reconnected";

  public static final String STOPPING = "stopping";
  public static final String TERMINATING = "terminating";

  public String routingKey() {
    return "worker." + state;
  }
}
