package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.LongPredicate;
import org.junit.jupiter.api.Test;

class PidWindowTest {

  private static final long PID_MAX = 32_768;

  @Test
  void theIdsAllocatedSinceLieBetweenTheTwoLastIds() {
    LongPredicate ids =
        PidWindow.allocatedBetween(new PidWindow(1000, 50), new PidWindow(1200, 260), PID_MAX);
    assertThat(ids.test(1000)).as("allocated before").isFalse();
    assertThat(ids.test(1001)).isTrue();
    assertThat(ids.test(1200)).isTrue();
    assertThat(ids.test(1201)).as("not allocated yet").isFalse();
    assertThat(ids.test(400)).isFalse();
  }

  @Test
  void afterTheLastIdWentRoundTheWindowWrapsToo() {
    LongPredicate ids =
        PidWindow.allocatedBetween(new PidWindow(32_700, 50), new PidWindow(320, 200), PID_MAX);
    assertThat(ids.test(32_701)).isTrue();
    assertThat(ids.test(32_768)).isTrue();
    assertThat(ids.test(301)).isTrue();
    assertThat(ids.test(320)).isTrue();
    assertThat(ids.test(321)).isFalse();
    assertThat(ids.test(32_700)).isFalse();
    assertThat(ids.test(5000)).isFalse();
  }

  @Test
  void nothingAllocatedMeansNoId() {
    LongPredicate ids =
        PidWindow.allocatedBetween(new PidWindow(1000, 50), new PidWindow(1000, 50), PID_MAX);
    assertThat(ids.test(1000)).isFalse();
    assertThat(ids.test(1001)).isFalse();
    assertThat(ids.test(999)).isFalse();
  }

  @Test
  void aWholeCycleOfForksOrAnUnknownMomentMeansAnyId() {
    // As many forks as there are ids: the last id may have gone all the way round and past.
    assertThat(
            PidWindow.allocatedBetween(
                new PidWindow(1000, 50), new PidWindow(1200, 50 + PID_MAX), PID_MAX))
        .isNull();
    assertThat(
            PidWindow.allocatedBetween(
                new PidWindow(1000, 50), new PidWindow(1200, 50 + PID_MAX - 300), PID_MAX))
        .isNull();
    assertThat(PidWindow.allocatedBetween(null, new PidWindow(1200, 60), PID_MAX)).isNull();
    assertThat(PidWindow.allocatedBetween(new PidWindow(1000, 50), null, PID_MAX)).isNull();
    assertThat(
            PidWindow.allocatedBetween(new PidWindow(1000, 50), new PidWindow(1200, 40), PID_MAX))
        .as("a count that went back (another boot's numbers)")
        .isNull();
  }

  @Test
  void aProcessStartedAfterTheMomentIsInItsWindow() throws Exception {
    assumeTrue(Files.isRegularFile(Path.of("/proc/sys/kernel/ns_last_pid")), "needs Linux /proc");
    PidWindow before = PidWindow.before();
    assertThat(before).isNotNull();
    Process p = new ProcessBuilder("/bin/true").start();
    try {
      p.waitFor();
      LongPredicate ids = PidWindow.allocatedSince(before);
      assertThat(ids).isNotNull();
      assertThat(ids.test(p.pid())).isTrue();
    } finally {
      p.destroyForcibly();
    }
  }
}
