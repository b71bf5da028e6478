package dev.conveyor.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.protocol.wire.TaskMessage;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class BrokerLeaseTest {

  private static TaskMessage task(Long timeoutMs, Long graceMs) {
    return new TaskMessage("t", "sleep", null, timeoutMs, graceMs, null, null, null);
  }

  @Test
  void aDeadlineWithinTheLeaseIsFine() {
    assertTrue(BrokerLease.exceeded(task(null, null), Duration.ofMinutes(30)).isEmpty());
    assertTrue(BrokerLease.exceeded(task(29 * 60_000L, 60_000L), Duration.ofMinutes(30)).isEmpty());
  }

  @Test
  void theGraceCountsAndDefaultsToFiveSeconds() {
    assertEquals(
        "timeout 30m plus grace 5s exceeds the broker's consumer_timeout of 30m: the broker would"
            + " take the task back while it runs",
        BrokerLease.exceeded(task(30 * 60_000L, null), Duration.ofMinutes(30)).orElseThrow());
    assertTrue(BrokerLease.exceeded(task(50 * 60_000L, 0L), Duration.ofHours(1)).isEmpty());
  }
}
