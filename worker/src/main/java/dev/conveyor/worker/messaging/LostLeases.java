package dev.conveyor.worker.messaging;

import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.Outcome;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.LongSupplier;

/**
 * Deliveries lost with a broker connection must not use up an attempt (docs/design.md) although the
 * broker counts them like those whose worker died ({@code x-delivery-count}). This worker records
 * its own at once, by task and retry copy; other workers' arrive as their {@code task.requeued}
 * events with cause {@code connection-lost}, which they send once they have reconnected.
 *
 * <p>A lost connection also returns deliveries its worker never saw: the broker had checked them
 * out to the channel but not yet written them to the socket, and counts them returned all the same.
 * No worker can name those. So every lost connection, this worker's own and those other workers
 * announce with {@code worker.reconnected}, is remembered for {@link #LOSS_KEPT}: a redelivery may
 * be forgiven as many counted deliveries as connections were lost meanwhile. A delivery lost with a
 * worker that died still counts when no connection was lost around it.
 */
public final class LostLeases {

  /** Enough for any burst of lost connections; the oldest entries go first. */
  private static final int CAPACITY = 10_000;

  /**
   * Recent settlements remembered: longer than any connection takes to be noticed lost. A power of
   * two.
   */
  private static final int SETTLED_CAPACITY = 4096;

  private final LongSupplier nanos;

  public LostLeases() {
    this(System::nanoTime);
  }

  /**
   * @param nanos the clock ({@link System#nanoTime()}; a test's own)
   */
  LostLeases(LongSupplier nanos) {
    this.nanos = nanos;
  }

  private final Map<String, Integer> lost = bounded(CAPACITY);
  private final Map<String, Integer> elsewhere = bounded(CAPACITY);
  private final Map<String, Known> known = bounded(CAPACITY);

  /** When each connection loss here or elsewhere was learnt ({@link System#nanoTime()}). */
  private final ArrayDeque<Long> losses = new ArrayDeque<>();

  /**
   * How long a connection loss may explain a redelivery: the broker returns the deliveries at once
   * and redelivers them within seconds; the word of a loss elsewhere comes once that worker has
   * reconnected.
   */
  static final Duration LOSS_KEPT = Duration.ofMinutes(1);

  /** More losses in a minute than this are as good as "many": the oldest are forgotten. */
  private static final int LOSSES_CAPACITY = 1_000;

  /** A settlement: when it was made ({@link System#nanoTime()}). */
  private record Settlement(String taskId, int attemptsUsed, long at) {}

  /**
   * The latest settlements, a ring written without a lock: every task that succeeds writes one, and
   * only a redelivery (rare) reads them, so writing is made cheap and reading is a scan.
   */
  private final AtomicReferenceArray<Settlement> settled =
      new AtomicReferenceArray<>(SETTLED_CAPACITY);

  private final AtomicLong nextSettled = new AtomicLong();

  /**
   * A redelivery comes seconds after the loss; an older settlement of the same id and attempt is
   * another message (e.g. a dead letter replayed since), not this one.
   */
  private static final long SETTLED_KEPT_NANOS = java.util.concurrent.TimeUnit.MINUTES.toNanos(5);

  /** What this worker knows of a message that the broker may deliver again. */
  public sealed interface Known {

    /** Settled here; the ack may have been lost with the connection. */
    record Settled() implements Known {}

    /**
     * Ran to this outcome here, but the broker took the message back before it was settled.
     *
     * @param copyPublished a retry or dead-letter copy exists already: only the ack was missing
     */
    record Finished(int attempt, Outcome outcome, boolean copyPublished) implements Known {}
  }

  private static <V> Map<String, V> bounded(int capacity) {
    return new LinkedHashMap<>() {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
        return size() > capacity;
      }
    };
  }

  /** This worker settled the message (an ack was sent, which a lost connection may drop). */
  public void settled(String taskId, int attemptsUsed) {
    int slot = (int) (nextSettled.getAndIncrement() & (SETTLED_CAPACITY - 1));
    settled.set(slot, new Settlement(taskId, attemptsUsed, nanos.getAsLong()));
  }

  /** The task ended here after the broker took its message back. */
  public synchronized void finishedUnsettled(
      String taskId, int attemptsUsed, int attempt, Outcome outcome, boolean copyPublished) {
    known.put(key(taskId, attemptsUsed), new Known.Finished(attempt, outcome, copyPublished));
  }

  /**
   * What this worker knows of a redelivered message, once: a second redelivery of it is treated as
   * a first one would be.
   */
  public synchronized Optional<Known> takeKnown(String taskId, int attemptsUsed) {
    String key = key(taskId, attemptsUsed);
    Known finished = known.remove(key);
    if (finished != null) {
      return Optional.of(finished);
    }
    return takeSettled(taskId, attemptsUsed) ? Optional.of(new Known.Settled()) : Optional.empty();
  }

  /** Whether a recent settlement of the message is remembered; it is forgotten now. */
  private boolean takeSettled(String taskId, int attemptsUsed) {
    long now = nanos.getAsLong();
    boolean found = false;
    for (int i = 0; i < SETTLED_CAPACITY; i++) {
      Settlement s = settled.get(i);
      if (s != null
          && s.attemptsUsed() == attemptsUsed
          && s.taskId().equals(taskId)
          && settled.compareAndSet(i, s, null)) {
        found |= now - s.at() < SETTLED_KEPT_NANOS;
      }
    }
    return found;
  }

  /** This worker held the delivery when its connection went: the broker will count it. */
  public synchronized void record(String taskId, Lease lease) {
    lost.merge(key(taskId, TaskIntake.attemptsUsed(lease)), 1, Integer::sum);
  }

  /** A broker connection was lost: this worker's own, or one another worker announced. */
  public synchronized void connectionLost() {
    losses.addLast(nanos.getAsLong());
    if (losses.size() > LOSSES_CAPACITY) {
      losses.removeFirst();
    }
  }

  private int recentLosses() {
    long oldest = nanos.getAsLong() - LOSS_KEPT.toNanos();
    while (!losses.isEmpty() && losses.peekFirst() - oldest < 0) {
      losses.removeFirst();
    }
    return losses.size();
  }

  /** Another worker said it lost a delivery of this task with its connection. */
  public synchronized void recordElsewhere(String taskId) {
    elsewhere.merge(taskId, 1, Integer::sum);
  }

  /**
   * How many of the deliveries the broker counted for this message ({@code deliveryCount}) were
   * lost with a connection: those known by task, or, if more, as many as connections were lost in
   * the last {@link #LOSS_KEPT} (each lost connection returns a message at most once); at most that
   * count, as a retry's copy (a new message) starts counting again.
   *
   * @param attemptsUsed the attempts the message's retry copy carries
   */
  public synchronized int forgiven(String taskId, int attemptsUsed, int deliveryCount) {
    int recorded =
        lost.getOrDefault(key(taskId, attemptsUsed), 0) + elsewhere.getOrDefault(taskId, 0);
    return Math.min(Math.max(recorded, recentLosses()), deliveryCount);
  }

  /** A retry's copy is a new message whose deliveries are counted afresh: keyed apart. */
  private static String key(String taskId, int attemptsUsed) {
    return taskId + "#" + attemptsUsed;
  }
}
