package dev.conveyor.producer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ConfirmWaitTest {

  private static final long MS = 1_000_000;

  private final ConfirmWait wait = new ConfirmWait(Duration.ofSeconds(1));

  @Test
  void theTimeoutCountsFromTheLastConfirm() {
    assertEquals(1000 * MS, wait.left(0, 3, false, 0));
    assertEquals(400 * MS, wait.left(600 * MS, 3, false, 0));
    assertEquals(1000 * MS, wait.left(700 * MS, 2, false, 0)); // one confirmed
    assertEquals(0, wait.left(1700 * MS, 2, false, 0));
  }

  @Test
  void theTimeoutDoesNotRunWhileTheBrokerBlocks() {
    wait.left(0, 1, false, 0);
    assertEquals(1000 * MS, wait.left(900 * MS, 1, true, 0));
    assertEquals(1000 * MS, wait.left(5000 * MS, 1, true, 0));
  }

  @Test
  void theTimeoutStartsAgainWhenTheBlockEnds() {
    wait.left(0, 1, false, 0);
    wait.left(100 * MS, 1, true, 0); // woken by nothing but its own wait, still blocked
    // The block ends 990 ms after the waiter last looked: the broker gets a whole timeout from
    // here.
    assertEquals(1000 * MS, wait.left(1090 * MS, 1, false, 1));
    assertEquals(500 * MS, wait.left(1590 * MS, 1, false, 1));
  }

  @Test
  void aBlockThatBeganAndEndedBetweenTwoLooksStillStartsTheTimeoutAgain() {
    wait.left(0, 1, false, 0);
    assertEquals(1000 * MS, wait.left(800 * MS, 1, false, 1));
  }
}
