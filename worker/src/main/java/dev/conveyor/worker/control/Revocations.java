package dev.conveyor.worker.control;

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

  public void revoke(Collection<String> taskIds, String issuedBy, Instant at) {
    Instant when = at == null ? Instant.now() : at;
    if (when.isBefore(Instant.now().minus(TTL))) {
      return;
    }
    Revocation r = new Revocation(issuedBy, when);
    taskIds.forEach(id -> byTask.put(id, r));
    if (byTask.size() % 1024 == 0) {
      prune();
    }
  }

  public Optional<Revocation> find(String taskId) {
    Revocation r = byTask.get(taskId);
    if (r != null && r.at().isBefore(Instant.now().minus(TTL))) {
      byTask.remove(taskId, r);
      return Optional.empty();
    }
    return Optional.ofNullable(r);
  }

  public int size() {
    return byTask.size();
  }

  private void prune() {
    Instant cutoff = Instant.now().minus(TTL);
    byTask.values().removeIf(r -> r.at().isBefore(cutoff));
  }
}
