package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A process in the middle of an {@code exec} shows no environment: the kernel has switched it to
 * its new memory but not yet laid out the new environment ({@code env_end} is 0 in its {@code
 * stat}). A daemon a task started ({@code setsid prog &}) may be there just when the task's search
 * runs, and a search that took it for unmarked left it running. The window is held open here: the
 * search reads a {@code /proc} of the test's making, for a process of the test's, whose {@code
 * exec} completes only when the search pauses to read it again.
 */
class MidExecScanTest {

  /** Flags of a process that is exiting, and of a kernel thread (include/linux/sched.h). */
  private static final long PF_EXITING = 0x4;

  private static final long PF_KTHREAD = 0x00200000;

  @TempDir Path proc;

  private Process process;
  private long pid;
  private Path dir;

  @BeforeEach
  void aProcess() throws Exception {
    process = new ProcessBuilder("/bin/sleep", "600").start();
    pid = process.pid();
    dir = Files.createDirectory(proc.resolve(Long.toString(pid)));
    Files.writeString(
        dir.resolve("status"), "Name:\tsleep\nTgid:\t" + pid + "\nPid:\t" + pid + "\n");
  }

  @AfterEach
  void endIt() {
    process.destroyForcibly();
  }

  @Test
  void aProcessCaughtInTheMiddleOfAnExecIsReadAgainUntilItsEnvironmentIsThere() throws Exception {
    midExec('R', 0);
    AtomicInteger pauses = new AtomicInteger();

    List<ExecContainment.Marked> found =
        ExecContainment.scan(
            onlyThis(),
            proc,
            nanos -> {
              pauses.incrementAndGet();
              execDone("PATH=/bin\0" + ExecContainment.VARIABLE + "=ns:1:2:3\0");
            });

    assertThat(pauses).as("paused once, then read again").hasValue(1);
    assertThat(found)
        .extracting(m -> m.process().pid(), ExecContainment.Marked::mark)
        .containsExactly(tuple(pid, "ns:1:2:3"));
  }

  @Test
  void aProcessWhoseEnvironmentIsEmptyOrThatIsEndingOrAKernelThreadIsNotWaitedFor()
      throws Exception {
    AtomicInteger pauses = new AtomicInteger();
    for (Runnable state :
        List.<Runnable>of(
            () -> execDone(""), // env -i: laid out, and empty
            () -> midExec('R', PF_EXITING), // its memory already released
            () -> midExec('S', PF_KTHREAD),
            () -> midExec('Z', 0))) {
      state.run();
      assertThat(ExecContainment.scan(onlyThis(), proc, nanos -> pauses.incrementAndGet()))
          .isEmpty();
    }
    assertThat(pauses).hasValue(0);
  }

  /**
   * An id the search looks up one by one may be a thread's: {@code /proc} shows a thread under its
   * own id, with its process's environment. Only the process is reported. The "thread" here is a
   * live process of the test's, so that a search that took it for a process would report it.
   */
  @Test
  void aThreadIdLookedUpIsNotTakenForAProcess() throws Exception {
    execDone(ExecContainment.VARIABLE + "=ns:1:2:3\0");
    Process other = new ProcessBuilder("/bin/sleep", "600").start();
    try {
      long tid = other.pid();
      Path thread = Files.createDirectory(proc.resolve(Long.toString(tid)));
      Files.copy(dir.resolve("environ"), thread.resolve("environ"));
      Files.copy(dir.resolve("stat"), thread.resolve("stat"));
      Files.writeString(
          thread.resolve("status"),
          "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t"
              + pid
              + "\nPid:\t"
              + tid
              + "\n");

      List<ExecContainment.Marked> found =
          ExecContainment.scan(
              new PidWindow.Ids(new long[] {pid, tid}, new long[] {pid, tid}), proc, nanos -> {});

      assertThat(found).extracting(m -> m.process().pid()).containsExactly(pid);
    } finally {
      other.destroyForcibly();
    }
  }

  private PidWindow.Ids onlyThis() {
    return new PidWindow.Ids(new long[] {pid}, new long[] {pid});
  }

  /** Switched to its new memory, whose environment is not laid out: nothing to read. */
  private void midExec(char state, long flags) {
    write("environ", "");
    write("stat", stat(state, flags, 0, 0));
  }

  private void execDone(String environ) {
    write("environ", environ);
    long start = 140_737_000_000_000L;
    write("stat", stat('S', 0, start, start + environ.length()));
  }

  /**
   * A {@code stat} line: pid, comm, then fields 3 to 52, flags being the 9th, the env the 50-51st.
   */
  private String stat(char state, long flags, long envStart, long envEnd) {
    List<String> f = new ArrayList<>(Collections.nCopies(50, "0"));
    f.set(0, Character.toString(state));
    f.set(9 - 3, Long.toString(flags));
    f.set(50 - 3, Long.toString(envStart));
    f.set(51 - 3, Long.toString(envEnd));
    return pid + " (sleep) " + String.join(" ", f) + "\n";
  }

  private void write(String file, String text) {
    try {
      Files.write(dir.resolve(file), text.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
