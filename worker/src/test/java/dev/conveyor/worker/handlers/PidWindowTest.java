package dev.conveyor.worker.handlers;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
  void severalMomentsCoverEachOnesIds() {
    // Read in this order: b's fork count before a's process forked a child (1002), b's last id
    // after it. b has the fewer forks counted but the later last id: a window from b alone would
    // miss a's child.
    PidWindow a = new PidWindow(1000, 100);
    PidWindow b = new PidWindow(1002, 100);
    PidWindow now = new PidWindow(1010, 110);
    LongPredicate fromB = PidWindow.allocatedBetween(b, now, PID_MAX);
    assertThat(fromB.test(1002)).isFalse();
    LongPredicate either = PidWindow.allocatedSinceAny(List.of(a, b), now, PID_MAX);
    assertThat(either.test(1002)).isTrue();
    assertThat(either.test(1001)).isTrue();
    assertThat(either.test(1000)).isFalse();
    assertThat(either.test(1011)).isFalse();
    assertThat(PidWindow.allocatedSinceAny(List.of(a, new PidWindow(5, 1)), now, 200))
        .as("one moment a whole cycle ago: any id")
        .isNull();
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
      LongPredicate ids = PidWindow.allocatedSince(List.of(before));
      assertThat(ids).isNotNull();
      assertThat(ids.test(p.pid())).isTrue();
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void theIdsOfAWindowCanBeCountedAndGoneThroughInOrder() {
    PidWindow.Ids straight =
        PidWindow.allocatedBetween(new PidWindow(1000, 50), new PidWindow(1004, 60), PID_MAX);
    assertThat(straight.count()).isEqualTo(4);
    assertThat(ids(straight)).containsExactly(1001L, 1002L, 1003L, 1004L);

    PidWindow.Ids round =
        PidWindow.allocatedBetween(new PidWindow(32_766, 50), new PidWindow(3, 60), PID_MAX);
    assertThat(ids(round)).containsExactly(1L, 2L, 3L, 32_767L, 32_768L);
    assertThat(round.count()).isEqualTo(5);

    PidWindow.Ids none =
        PidWindow.allocatedBetween(new PidWindow(1000, 50), new PidWindow(1000, 50), PID_MAX);
    assertThat(none.count()).isZero();
  }

  @Test
  void severalWindowsCountSharedIdsOnce() {
    PidWindow now = new PidWindow(1010, 100);
    PidWindow.Ids union =
        PidWindow.allocatedSinceAny(
            List.of(new PidWindow(1000, 50), new PidWindow(1005, 60), new PidWindow(1009, 70)),
            now,
            PID_MAX);
    assertThat(union.count()).isEqualTo(10);
    assertThat(ids(union))
        .containsExactly(1001L, 1002L, 1003L, 1004L, 1005L, 1006L, 1007L, 1008L, 1009L, 1010L);

    PidWindow.Ids apart = new PidWindow.Ids(new long[] {20, 5, 7, 30}, new long[] {21, 6, 6, 29});
    assertThat(ids(apart))
        .as("empty ranges dropped, touching ones merged")
        .containsExactly(5L, 6L, 20L, 21L);
    assertThat(apart.test(6)).isTrue();
    assertThat(apart.test(7)).isFalse();
  }

  @Test
  void theForkCountIsReadFromItsLineOfProcStat() throws Exception {
    String stat =
        "cpu  1 2 3\ncpu0 1 2 3\nintr 99 0 1 processes 7\nctxt 5\nbtime 1\nprocesses 12345\n"
            + "procs_running 2\n";
    assertThat(PidWindow.forksIn(stat.getBytes(US_ASCII))).isEqualTo(12_345);
    assertThat(PidWindow.forksIn("processes 8".getBytes(US_ASCII)))
        .as("first line, no end")
        .isEqualTo(8);
    assertThat(PidWindow.forksIn("cpu 1\nprocs_running 2\n".getBytes(US_ASCII))).isEqualTo(-1);
    assertThat(PidWindow.forksIn("processes x\n".getBytes(US_ASCII))).isEqualTo(-1);
    assumeTrue(Files.isRegularFile(Path.of("/proc/stat")), "Linux only");
    long now = PidWindow.forksIn(Files.readAllBytes(Path.of("/proc/stat")));
    new ProcessBuilder("/bin/true").start().waitFor();
    assertThat(PidWindow.forksIn(Files.readAllBytes(Path.of("/proc/stat"))))
        .as("this machine's count, which a fork raises")
        .isGreaterThan(now)
        .isPositive();
  }

  private static List<Long> ids(PidWindow.Ids ids) {
    List<Long> out = new java.util.ArrayList<>();
    ids.forEach(out::add);
    return out;
  }
}
