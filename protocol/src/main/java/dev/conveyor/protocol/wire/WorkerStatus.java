package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;

/** A worker's answer to a {@code status} broadcast, sent back by direct reply-to. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record WorkerStatus(
    String worker,
    String host,
    long pid,
    List<String> queues,
    int concurrency,
    boolean paused,
    Instant startedAt,
    List<RunningTask> tasks) {

  /** One task as the worker sees it now; {@code stage} is how far up the escalation ladder. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record RunningTask(
      String id,
      String type,
      int attempt,
      Instant startedAt,
      long ageMs,
      Instant deadline,
      String stage,
      Double progress) {}
}
