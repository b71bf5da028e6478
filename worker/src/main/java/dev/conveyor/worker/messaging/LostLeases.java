package dev.conveyor.worker.messaging;

import dev.conveyor.worker.execution.Lease;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The deliveries this worker lost with its broker connection, by task and attempt. The broker
 * counts such a delivery like one whose worker died ({@code x-delivery-count}), but a requeue
 * caused by a lost connection must not use up an attempt (SPEC §5): when the task comes back to
 * this worker, the deliveries it lost itself are not counted. One that comes back to another worker
 * cannot be told from a delivery whose worker died, and still counts there.
 */
public final class LostLeases {

  /** Enough for any burst of lost connections; the oldest entries go first. */
  private static final int CAPACITY = 10_000;

  private final Map<String, Integer> lost =
      new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
          return size() > CAPACITY;
        }
      };

  /** This worker held the delivery when its connection went: the broker will count it. */
  public synchronized void record(String taskId, Lease lease) {
    lost.merge(key(taskId, lease), 1, Integer::sum);
  }

  /**
   * How many of the deliveries the broker counted for this message were lost by this worker: at
   * most that count, as a retry's copy (a new message) starts counting again.
   */
  public synchronized int forgiven(String taskId, Lease lease) {
    Integer mine = lost.get(key(taskId, lease));
    return mine == null ? 0 : Math.min(mine, TaskIntake.deliveryCount(lease));
  }

  /** A retry's copy is a new message whose deliveries are counted afresh: keyed apart. */
  private static String key(String taskId, Lease lease) {
    return taskId + "#" + TaskIntake.attemptsUsed(lease);
  }
}
