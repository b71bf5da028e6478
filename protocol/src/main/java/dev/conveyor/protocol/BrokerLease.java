package dev.conveyor.protocol;

import dev.conveyor.protocol.wire.TaskMessage;
import java.time.Duration;
import java.util.Optional;

/**
 * RabbitMQ takes back a delivery left unacknowledged longer than its {@code consumer_timeout} (30
 * minutes by default) by closing the consumer's channel. A task whose deadline lies beyond that
 * would be redelivered while it still runs, so producers refuse such tasks and workers warn.
 */
public final class BrokerLease {

  /** RabbitMQ's default {@code consumer_timeout}. */
  public static final Duration DEFAULT_CONSUMER_TIMEOUT = Duration.ofMinutes(30);

  /** The grace a worker applies when a task sets none. */
  public static final Duration DEFAULT_GRACE = Duration.ofSeconds(5);

  private BrokerLease() {}

  /**
   * @return why the task's deadline outlives the broker's lease, or empty if it does not (or has no
   *     deadline of its own)
   */
  public static Optional<String> exceeded(TaskMessage task, Duration consumerTimeout) {
    if (task.timeoutMs() == null) {
      return Optional.empty();
    }
    Duration grace = task.graceMs() == null ? DEFAULT_GRACE : Duration.ofMillis(task.graceMs());
    Duration total = Duration.ofMillis(task.timeoutMs()).plus(grace);
    if (total.compareTo(consumerTimeout) <= 0) {
      return Optional.empty();
    }
    return Optional.of(
        "timeout "
            + Durations.format(Duration.ofMillis(task.timeoutMs()))
            + " plus grace "
            + Durations.format(grace)
            + " exceeds the broker's consumer_timeout of "
            + Durations.format(consumerTimeout)
            + ": the broker would take the task back while it runs");
  }
}
