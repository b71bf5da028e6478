package dev.conveyor.worker.messaging;

import dev.conveyor.worker.execution.Lease;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Deliveries lost with a broker connection must not use up an attempt (docs/design.md) although the
 * broker counts them like those whose worker died ({@code x-delivery-count}). This worker records
 * its own at once, by task and retry copy; other workers' arrive as their {@code task.requeued}
 * events with cause {@code connection-lost}, which they send once they have reconnected.
 */
public final class LostLeases {

  /** Enough for any burst of lost connections; the oldest entries go first. */
  private static final int CAPACITY = 10_000;

  private final Map<String, Integer> lost = bounded();
  private final Map<String, Integer> elsewhere = bounded();

  private static Map<String, Integer> bounded() {
    return new LinkedHashMap<>() {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
        return size() > CAPACITY;
      }
    };
  }

  /** This worker held the delivery when its connection went: the broker will count it. */
  public synchronized void record(String taskId, Lease lease) {
    lost.merge(key(taskId, TaskIntake.attemptsUsed(lease)), 1, Integer::sum);
  }

  /** Another worker said it lost a delivery of this task with its connection. */
  public synchronized void recordElsewhere(String taskId) {
    elsewhere.merge(taskId, 1, Integer::sum);
  }

  /**
   * How many of the deliveries the broker counted for this message ({@code deliveryCount}) were
   * lost with a connection: at most that count, as a retry's copy (a new message) starts counting
   * again.
   *
   * @param attemptsUsed the attempts the message's retry copy carries
   */
  public synchronized int forgiven(String taskId, int attemptsUsed, int deliveryCount) {
    int recorded =
        lost.getOrDefault(key(taskId, attemptsUsed), 0) + elsewhere.getOrDefault(taskId, 0);
    return Math.min(recorded, deliveryCount);
  }

  /** A retry's copy is a new message whose deliveries are counted afresh: keyed apart. */
  private static String key(String taskId, int attemptsUsed) {
    return taskId + "#" + attemptsUsed;
  }
}
