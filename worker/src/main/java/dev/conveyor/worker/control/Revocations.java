package dev.conveyor.worker.control;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Task ids that a stop or kill named: a task that arrives later is cancelled without running. Kept
 * for longer than the promised 24 hours; fed live and from the replayed control log.
 */
public final class Revocations {

  /** How long a revocation is honoured. */
  public static final Duration TTL = Duration.ofHours(25);

  /** Who revoked a task, and when. */
  public record Revocation(String issuedBy, Instant at) {}

  private final Map<String, Revocation> byTask = new ConcurrentHashMap<>();
  private final Clock clock;

  public Revocations() {
    this(Clock.systemUTC());
  }

  Revocations(Clock clock) {
    this.clock = clock;
    this.prunedAt = clock.instant();
  }

  /** The size at which expired entries are next pruned: twice what was left after the last. */
  private volatile int pruneAt = 1024;

  /** Expired entries go at least this often, however slowly revocations come. */
  private static final Duration PRUNE_EVERY = Duration.ofHours(1);

  private volatile Instant prunedAt;

  public void revoke(Collection<String> taskIds, String issuedBy, Instant at) {
    Instant now = clock.instant();
    // Dated ahead of this clock (a skewed host's, or a made-up date an unsigned command may carry):
    // counted from its receipt, or it would outlive the TTL by the skew, and a far date for good.
    Instant when = at == null || at.isAfter(now) ? now : at;
    if (when.isBefore(now.minus(TTL))) {
      return;
    }
    Revocation r = new Revocation(issuedBy, when);
    taskIds.forEach(id -> byTask.put(id, r));
    if (byTask.size() >= pruneAt || clock.instant().isAfter(prunedAt.plus(PRUNE_EVERY))) {
      prune();
    }
  }

  public Optional<Revocation> find(String taskId) {
    Revocation r = byTask.get(taskId);
    if (r != null && r.at().isBefore(clock.instant().minus(TTL))) {
      byTask.remove(taskId, r);
      return Optional.empty();
    }
    return Optional.ofNullable(r);
  }

  public int size() {
    return byTask.size();
  }

  /** Amortised: a prune at most every hour, or when the map has doubled since the last one. */
  private synchronized void prune() {
    Instant now = clock.instant();
    if (byTask.size() < pruneAt && !now.isAfter(prunedAt.plus(PRUNE_EVERY))) {
      return; // another thread just did
    }
    Instant cutoff = now.minus(TTL);
    byTask.values().removeIf(r -> r.at().isBefore(cutoff));
    pruneAt = Math.max(1024, byTask.size() * 2);
    prunedAt = now;
  }
}
