package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** CSRF tokens, sessions and the failed-login limit. */
class SecurityChecksTest {

  /** A clock the test moves by hand. */
  static final class TestClock extends Clock {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  private final TestClock clock = new TestClock();
  private final UserStore.User alice = new UserStore.User("alice", Role.OPERATOR);

  @Test
  void csrfTokenMustBeExactlyTheSessionsOwn() {
    Sessions sessions = new Sessions(Duration.ofHours(1), clock);
    Sessions.Session s = sessions.create(alice);
    Sessions.Session other = sessions.create(alice);

    assertThat(Sessions.csrfMatches(s.csrf(), s.csrf())).isTrue();
    assertThat(Sessions.csrfMatches(s.csrf(), other.csrf())).isFalse();
    assertThat(Sessions.csrfMatches(s.csrf(), null)).isFalse();
    assertThat(Sessions.csrfMatches(s.csrf(), "")).isFalse();
    assertThat(Sessions.csrfMatches(s.csrf(), s.csrf().substring(1))).isFalse();
    assertThat(Sessions.csrfMatches(s.csrf(), s.csrf() + "x")).isFalse();
    assertThat(Sessions.csrfMatches(null, null)).isFalse();
    assertThat(Sessions.csrfMatches("", "")).isFalse();
  }

  @Test
  void sessionsAreRandomSeparateFromTheirTokenAndExpire() {
    Sessions sessions = new Sessions(Duration.ofHours(1), clock);
    Sessions.Session s = sessions.create(alice);
    assertThat(s.id()).hasSizeGreaterThanOrEqualTo(43).isNotEqualTo(s.csrf());
    assertThat(sessions.create(alice).id()).isNotEqualTo(s.id());

    assertThat(sessions.find(s.id())).contains(s);
    assertThat(sessions.find("forged")).isEmpty();
    assertThat(sessions.find(null)).isEmpty();

    clock.now = clock.now.plus(Duration.ofMinutes(59));
    assertThat(sessions.find(s.id())).isPresent();
    clock.now = clock.now.plus(Duration.ofMinutes(1));
    assertThat(sessions.find(s.id())).isEmpty();

    Sessions.Session t = sessions.create(alice);
    sessions.remove(t.id());
    assertThat(sessions.find(t.id())).isEmpty();
  }

  @Test
  void failedLoginsAreLimitedPerAddressAndPerName() {
    LoginThrottle throttle = new LoginThrottle(3, Duration.ofMinutes(1), clock);
    for (int i = 0; i < 3; i++) {
      assertThat(throttle.allowed("10.0.0.1", "alice")).isTrue();
      throttle.failed("10.0.0.1", "alice");
      clock.now = clock.now.plusSeconds(1);
    }
    assertThat(throttle.allowed("10.0.0.1", "alice")).isFalse();
    // The same address for another name, and another address for the same name, are held too.
    assertThat(throttle.allowed("10.0.0.1", "bob")).isFalse();
    assertThat(throttle.allowed("10.0.0.2", "alice")).isFalse();
    assertThat(throttle.allowed("10.0.0.2", "bob")).isTrue();
    assertThat(throttle.retryAfter("10.0.0.1", "alice")).isEqualTo(Duration.ofSeconds(57));

    clock.now = clock.now.plusSeconds(57);
    assertThat(throttle.allowed("10.0.0.1", "alice")).isTrue();
    assertThat(throttle.retryAfter("10.0.0.1", "alice")).isEqualTo(Duration.ZERO);
  }

  @Test
  void commandTargetsComeOnlyFromKnownKinds() {
    assertThat(Targets.describe(Targets.parse("task", " t1 "))).isEqualTo("task t1");
    assertThat(Targets.describe(Targets.parse("worker", "w1"))).isEqualTo("worker w1");
    assertThat(Targets.describe(Targets.parse("type", "sleep"))).isEqualTo("type sleep");
    assertThat(Targets.describe(Targets.parse("all", null))).isEqualTo("all");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Targets.parse("task", " "))
        .isInstanceOf(IllegalArgumentException.class);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Targets.parse("queue", "x"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
