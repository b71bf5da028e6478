package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;

/**
 * A worker's answer to a {@code status} broadcast, sent back by direct reply-to. {@code isolation}
 * is where it runs Java handlers ({@code thread} or {@code process}), absent from workers older
 * than it.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record WorkerStatus(
    String worker,
    String host,
    long pid,
    List<String> queues,
    int concurrency,
    boolean paused,
    Instant startedAt,
    List<RunningTask> tasks,
    String isolation) {

  public WorkerStatus(
      String worker,
      String host,
      long pid,
      List<String> queues,
      int concurrency,
      boolean paused,
      Instant startedAt,
      List<RunningTask> tasks) {
    this(worker, host, pid, queues, concurrency, paused, startedAt, tasks, null);
  }

  /**
   * One task as the worker sees it now; {@code stage} is how far up the escalation ladder. {@code
   * child} is the child JVM running it under {@code worker --isolation process}, absent otherwise
   * (and from workers older than it).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record RunningTask(
      String id,
      String type,
      int attempt,
      Instant startedAt,
      long ageMs,
      Instant deadline,
      String stage,
      Double progress,
      ChildProcess child) {

    public RunningTask(
        String id,
        String type,
        int attempt,
        Instant startedAt,
        long ageMs,
        Instant deadline,
        String stage,
        Double progress) {
      this(id, type, attempt, startedAt, ageMs, deadline, stage, progress, null);
    }
  }

  /**
   * The child JVM a task runs in: its pid, the tasks it has run (this one included) and its
   * resident set size in bytes ({@code rssBytes} absent where the worker cannot read it).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record ChildProcess(long pid, int tasksRun, Long rssBytes) {}
}
