package dev.conveyor.dashboard;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * Limits failed logins: after {@code limit} failures within {@code window} from one client address,
 * or for one user name, further attempts are refused until the oldest failure leaves the window.
 */
public final class LoginThrottle {
  private final int limit;
  private final Duration window;
  private final Clock clock;
  private final Map<String, Deque<Instant>> failures = new HashMap<>();

  public LoginThrottle(int limit, Duration window, Clock clock) {
    this.limit = limit;
    this.window = window;
    this.clock = clock;
  }

  /** Whether an attempt from this address for this name may be checked now. */
  public synchronized boolean allowed(String address, String name) {
    Instant now = clock.instant();
    return recent("addr:" + address, now) < limit && recent("user:" + name, now) < limit;
  }

  public synchronized void failed(String address, String name) {
    Instant now = clock.instant();
    failures.computeIfAbsent("addr:" + address, k -> new ArrayDeque<>()).addLast(now);
    failures.computeIfAbsent("user:" + name, k -> new ArrayDeque<>()).addLast(now);
  }

  /** How long until the next attempt may be checked, for the Retry-After header. */
  public synchronized Duration retryAfter(String address, String name) {
    Instant now = clock.instant();
    Instant oldest = null;
    for (String key : new String[] {"addr:" + address, "user:" + name}) {
      Deque<Instant> d = failures.get(key);
      if (d != null && recent(key, now) >= limit) {
        Instant first = d.peekFirst();
        if (oldest == null || first.isAfter(oldest)) {
          oldest = first;
        }
      }
    }
    if (oldest == null) {
      return Duration.ZERO;
    }
    Duration left = Duration.between(now, oldest.plus(window));
    return left.isNegative() ? Duration.ZERO : left;
  }

  private int recent(String key, Instant now) {
    Deque<Instant> d = failures.get(key);
    if (d == null) {
      return 0;
    }
    Instant since = now.minus(window);
    while (!d.isEmpty() && !d.peekFirst().isAfter(since)) {
      d.removeFirst();
    }
    if (d.isEmpty()) {
      failures.remove(key);
      return 0;
    }
    return d.size();
  }
}
