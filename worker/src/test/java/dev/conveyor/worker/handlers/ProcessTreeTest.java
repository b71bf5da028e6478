package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conveyor.testkit.LogCapture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real child processes: a kill or stop ends the whole tree and leaves nothing in {@code /proc},
 * whether the tree cooperates or not.
 */
class ProcessTreeTest {

  private final List<Process> started = new ArrayList<>();
  private final ExecutorService signaller = Executors.newCachedThreadPool();

  @BeforeEach
  void linuxOnly() {
    assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux /proc");
  }

  @AfterEach
  void leaveNothingBehind() {
    signaller.shutdownNow();
    for (Process p : started) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  @Test
  void killEndsALoneChildAndItIsReaped() throws Exception {
    Process sleep = start("/bin/sleep", "600");
    ProcessTree tree = new ProcessTree(sleep, signaller);

    tree.kill();

    assertThat(sleep.waitFor()).isEqualTo(137); // 128 + SIGKILL
    tree.awaitGone(Duration.ofSeconds(5));
    assertThat(Files.exists(Path.of("/proc/" + sleep.pid()))).isFalse();
  }

  @Test
  void killEndsEveryGenerationOfATree() throws Exception {
    Process sh = start("/bin/sh", "-c", "/bin/sleep 600 & (/bin/sleep 600 & wait) & wait");
    List<ProcessHandle> all = awaitDescendants(sh, 3);
    ProcessTree tree = new ProcessTree(sh, signaller);

    tree.kill();

    assertEndedAndReaped(sh, tree, all);
  }

  @Test
  void terminateEndsATreeThatHonoursSigterm() throws Exception {
    Process sh = start("/bin/sh", "-c", "/bin/sleep 600 & /bin/sleep 600 & wait");
    List<ProcessHandle> all = awaitDescendants(sh, 2);
    ProcessTree tree = new ProcessTree(sh, signaller);

    tree.terminate();

    assertEndedAndReaped(sh, tree, all);
  }

  @Test
  void killOvertakesASigtermThatTheTreeIgnores() throws Exception {
    // Ignored signals stay ignored across fork and exec: no process of this tree ends on SIGTERM,
    // so the SIGTERM rounds are still going when the kill comes.
    Process sh =
        start("/bin/sh", "-c", "trap '' TERM; /bin/sleep 600 & (/bin/sleep 600 & wait) & wait");
    List<ProcessHandle> all = awaitDescendants(sh, 3);
    ProcessTree tree = new ProcessTree(sh, signaller);

    tree.terminate();
    tree.kill();

    assertEndedAndReaped(sh, tree, all);
  }

  /**
   * A children list that cannot be read (here a directory where the file should be) once made a
   * tree kill a kill of the root alone, in silence: the child lived on. Now the tree is found by
   * the slower scan, with a warning and a count.
   */
  @Test
  void aChildrenListThatCannotBeReadFallsBackToTheSlowWalkAndSaysSo(@TempDir Path fakeProc)
      throws Exception {
    Process sh = start("/bin/sh", "-c", "/bin/sleep 600 & wait");
    List<ProcessHandle> all = awaitDescendants(sh, 1);
    Files.createDirectories(fakeProc.resolve(sh.pid() + "/task/" + sh.pid() + "/children"));
    ProcessTree tree = new ProcessTree(sh, signaller, fakeProc, p -> {});
    long failuresBefore = ExecStats.treeWalkFailures();

    try (LogCapture log = LogCapture.of(ProcessTree.class)) {
      tree.kill();

      assertEndedAndReaped(sh, tree, all);
      assertThat(log.warnings())
          .singleElement()
          .asString()
          .startsWith("WARN exec: cannot read the children of process " + sh.pid() + " in ");
    }
    assertThat(ExecStats.treeWalkFailures()).isGreaterThan(failuresBefore);
  }

  private Process start(String... command) throws Exception {
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    started.add(p);
    return p;
  }

  private static List<ProcessHandle> awaitDescendants(Process p, int count) {
    return await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> p.descendants().filter(h -> h.info().command().isPresent()).toList(),
            list -> list.size() >= count);
  }

  /**
   * The root ends and, once the tree says it is gone, the root and its descendants are dead and
   * reaped: nothing left in {@code /proc}, not even a zombie.
   */
  private static void assertEndedAndReaped(
      Process root, ProcessTree tree, List<ProcessHandle> descendants) throws Exception {
    root.waitFor();
    tree.awaitGone(Duration.ofSeconds(5));
    List<ProcessHandle> all = new ArrayList<>(descendants);
    all.add(root.toHandle());
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(all)
                    .allSatisfy(
                        p -> assertThat(Files.exists(Path.of("/proc/" + p.pid()))).isFalse()));
  }
}
