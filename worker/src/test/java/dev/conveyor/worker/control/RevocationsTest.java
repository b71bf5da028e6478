package dev.conveyor.worker.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class RevocationsTest {

  /** A clock the test moves by hand. */
  private static final class TestClock extends Clock {
    private Instant now = Instant.parse("2026-12-01T00:00:00Z");

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  private static List<String> ids(String prefix, int n) {
    return IntStream.range(0, n).mapToObj(i -> prefix + i).toList();
  }

  @Test
  void aRevocationIsHonouredForItsTtlThenForgotten() {
    TestClock clock = new TestClock();
    Revocations r = new Revocations(clock);
    r.revoke(List.of("a"), "me", clock.now);
    clock.now = clock.now.plus(Revocations.TTL).minusSeconds(1);
    assertThat(r.find("a")).isPresent();
    clock.now = clock.now.plusSeconds(2);
    assertThat(r.find("a")).isEmpty();
  }

  /**
   * A stop issued on a host whose clock runs ahead (or with a made-up date, which an unsigned
   * command may carry) is honoured from its receipt for the TTL, not until the TTL after that date.
   */
  @Test
  void aRevocationDatedInTheFutureExpiresOneTtlAfterItsReceipt() {
    TestClock clock = new TestClock();
    Revocations r = new Revocations(clock);
    r.revoke(List.of("skewed"), "me", clock.now.plus(Duration.ofMinutes(5)));
    r.revoke(List.of("made-up"), "me", Instant.parse("2999-01-01T00:00:00Z"));
    clock.now = clock.now.plus(Revocations.TTL).minusSeconds(1);
    assertThat(r.find("skewed")).isPresent();
    assertThat(r.find("made-up")).isPresent();
    clock.now = clock.now.plusSeconds(2);
    assertThat(r.find("skewed")).isEmpty();
    assertThat(r.find("made-up")).isEmpty();
  }

  /**
   * Revocations that come in batches never hit an exact multiple of 1024: expired ones go anyway.
   */
  @Test
  void expiredRevocationsArePrunedWhateverSizeTheBatchesGive() {
    TestClock clock = new TestClock();
    Revocations r = new Revocations(clock);
    r.revoke(ids("old-", 1000), "me", clock.now);
    r.revoke(ids("more-", 30), "me", clock.now);
    clock.now = clock.now.plus(Revocations.TTL).plus(Duration.ofHours(1));
    r.revoke(List.of("new"), "me", clock.now);
    assertThat(r.size()).isOne();
  }
}
