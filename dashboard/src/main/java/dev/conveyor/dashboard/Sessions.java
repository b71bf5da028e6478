package dev.conveyor.dashboard;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Logged-in sessions, in memory: a restart logs everybody out. A session is known by a random
 * 256-bit id (the cookie) and carries its own random CSRF token, which every state-changing request
 * must repeat ({@link #csrfMatches}).
 */
public final class Sessions {

  /** One login. */
  public record Session(String id, UserStore.User user, String csrf, Instant expiresAt) {}

  private static final SecureRandom RANDOM = new SecureRandom();

  private final Map<String, Session> byId = new ConcurrentHashMap<>();
  private final Duration lifetime;
  private final Clock clock;

  public Sessions(Duration lifetime, Clock clock) {
    this.lifetime = lifetime;
    this.clock = clock;
  }

  public Session create(UserStore.User user) {
    Instant now = clock.instant();
    byId.values().removeIf(s -> s.expiresAt().isBefore(now));
    Session s = new Session(token(), user, token(), now.plus(lifetime));
    byId.put(s.id(), s);
    return s;
  }

  /** The live session with this id, if any. */
  public Optional<Session> find(String id) {
    if (id == null) {
      return Optional.empty();
    }
    Session s = byId.get(id);
    if (s == null) {
      return Optional.empty();
    }
    if (!s.expiresAt().isAfter(clock.instant())) {
      byId.remove(id);
      return Optional.empty();
    }
    return Optional.of(s);
  }

  public void remove(String id) {
    if (id != null) {
      byId.remove(id);
    }
  }

  /** A random URL-safe token of 256 bits. */
  public static String token() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** Whether {@code given} is the expected CSRF token; in constant time, and never for blanks. */
  public static boolean csrfMatches(String expected, String given) {
    if (expected == null || expected.isEmpty() || given == null || given.isEmpty()) {
      return false;
    }
    return MessageDigest.isEqual(
        expected.getBytes(java.nio.charset.StandardCharsets.UTF_8),
        given.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }
}
