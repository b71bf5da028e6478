package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conveyor.testkit.ManualScheduler;
import dev.conveyor.worker.api.TaskCancelledException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A task's processes end with the task, also those that left its process tree: a daemon ({@code
 * setsid}), a double fork, a background job the shell did not wait for.
 */
class ExecContainmentTest {

  private static final Path SETSID = Path.of("/usr/bin/setsid");

  @TempDir Path dir;

  private final List<ProcessHandle> spawned = new ArrayList<>();

  private final ExecContainment containment = new ExecContainment();

  @BeforeEach
  void linuxOnly() {
    assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux /proc");
    assumeTrue(Files.isExecutable(SETSID), "needs util-linux setsid");
  }

  @AfterEach
  void leaveNothingBehind() {
    spawned.forEach(ProcessHandle::destroyForcibly);
  }

  @Test
  void whatATaskLeftRunningEndsBeforeItIsReportedSucceeded() throws Exception {
    try (ExecHandler exec = new ExecHandler(List.of(Path.of("/bin/sh")))) {
      Object result =
          exec.handle(
              ExecContext.shell(
                  // a daemon in a session of its own, a double fork, a job nobody waits for
                  SETSID
                      + " /bin/sleep 600 & echo $! > "
                      + dir.resolve("daemon")
                      + "; (/bin/sleep 600 & echo $! > "
                      + dir.resolve("orphan")
                      + ") ; /bin/sleep 600 & echo $! > "
                      + dir.resolve("job")
                      + "; echo done"));

      assertThat(((Map<?, ?>) result).get("output")).isEqualTo("done\n");
      for (String name : List.of("daemon", "orphan", "job")) {
        assertThat(running(pidIn(name))).as(name).isFalse();
      }
    }
  }

  @Test
  void aDaemonOfAKilledTaskEndsWithIt() throws Exception {
    try (ExecHandler exec = new ExecHandler(List.of(Path.of("/bin/sh")))) {
      ExecContext ctx =
          ExecContext.shell(
              SETSID + " /bin/sleep 600 & echo $! > " + dir.resolve("daemon") + "; exec sleep 600");
      CompletableFuture<Object> outcome =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return exec.handle(ctx);
                } catch (Exception e) {
                  return e;
                }
              });
      Path pidFile = dir.resolve("daemon");
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> Files.exists(pidFile) && Files.size(pidFile) > 0);
      ProcessHandle daemon = ProcessHandle.of(pidIn("daemon")).orElseThrow();
      await().atMost(Duration.ofSeconds(10)).until(() -> !ctx.killHooks.isEmpty());

      ctx.killHooks.forEach(Runnable::run);

      assertThat(outcome.get(10, TimeUnit.SECONDS)).isInstanceOf(TaskCancelledException.class);
      assertThat(ProcessTree.running(daemon)).isFalse();
    }
  }

  /**
   * What a worker that is gone (kill -9) left running carries that worker's mark; the next worker
   * on the host ends it. What a live worker runs is left alone.
   */
  @Test
  void theNextWorkerEndsTheProcessesOfAWorkerThatIsGoneButNotThoseOfALiveOne() throws Exception {
    Process gone = new ProcessBuilder("/bin/true").start();
    gone.waitFor();
    String namespace =
        Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString().replaceAll("\\D", "");
    assertThat(ExecContainment.startTime(gone.pid())).isEmpty();
    ProcessHandle orphan = marked(namespace + ":" + gone.pid() + ":12345:7");
    Process liveWorker = new ProcessBuilder("/bin/sleep", "600").start();
    spawned.add(liveWorker.toHandle());
    String liveStart = ExecContainment.startTime(liveWorker.pid());
    ProcessHandle ofLiveWorker =
        marked(namespace + ":" + liveWorker.pid() + ":" + liveStart + ":7");
    ProcessHandle ofAnotherNamespace = marked("1:" + gone.pid() + ":1:7");

    new ExecHandler(List.of(Path.of("/bin/sh"))).close();

    assertThat(ProcessTree.running(orphan)).isFalse();
    assertThat(ProcessTree.running(ofLiveWorker)).isTrue();
    assertThat(ProcessTree.running(ofAnotherNamespace)).isTrue();
  }

  private ProcessHandle marked(String mark) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("/bin/sleep", "600");
    pb.environment().put(ExecContainment.VARIABLE, mark);
    ProcessHandle p = pb.start().toHandle();
    spawned.add(p);
    return p;
  }

  private long pidIn(String name) throws Exception {
    return Long.parseLong(Files.readString(dir.resolve(name)).trim());
  }

  private static boolean running(long pid) {
    Optional<ProcessHandle> p = ProcessHandle.of(pid);
    return p.isPresent() && ProcessTree.running(p.get());
  }

  @Test
  void aSearchDoesNotReadTheEnvironmentOfATaskProcessStillRunning() throws Exception {
    PidWindow before = windowStart();
    ProcessBuilder pb = new ProcessBuilder("/bin/sleep", "600");
    ExecContainment.Run run = containment.mark(pb);
    Process root = pb.start();
    spawned.add(root.toHandle());
    containment.started(root);
    try {
      PidWindow.Ids since = PidWindow.allocatedSince(List.of(before));
      assertThat(since.test(root.pid())).isTrue();
      for (PidWindow.Ids ids :
          List.of(since, new PidWindow.Ids(new long[] {1}, new long[] {1L << 22}))) {
        // Looked up one by one, and (too many ids) by listing /proc.
        assertThat(marksOf(ExecContainment.scan(ids), root.pid()))
            .as("a running task process is known, not read")
            .isEmpty();
      }
    } finally {
      containment.forget(root);
    }
    assertThat(marksOf(ExecContainment.scan(PidWindow.allocatedSince(List.of(before))), root.pid()))
        .as("once forgotten, it is read like any other")
        .containsExactly(run.mark());
  }

  @Test
  void aProcessAKillFoundInATasksTreeIsKnownByItsMarkAndEndsWithTheTask() throws Exception {
    PidWindow before = windowStart();
    ExecContainment.Run run = containment.mark(new ProcessBuilder("/bin/true"));
    // Unmarked: a search that read its environment would find nothing.
    Process member = new ProcessBuilder("/bin/sleep", "600").start();
    spawned.add(member.toHandle());
    containment.inTree(run, member.toHandle());

    assertThat(
            marksOf(ExecContainment.scan(PidWindow.allocatedSince(List.of(before))), member.pid()))
        .as("known by its tree's mark, not read")
        .containsExactly(run.mark());
    containment.endLeftovers(run, "t");
    assertThat(member.waitFor(10, TimeUnit.SECONDS)).as("ended with its task").isTrue();
    assertThat(
            marksOf(ExecContainment.scan(PidWindow.allocatedSince(List.of(before))), member.pid()))
        .as("forgotten once it has ended")
        .isEmpty();
  }

  /**
   * What the test above gives {@code inTree} by hand, the exec handler's own tree does: every
   * process a stop or kill signals in the task's tree is known by the task's mark. The tree ignores
   * SIGTERM, so that its processes outlive the stop and the search can be asked about them; they
   * are not marked, so that a search that read their environments would find nothing.
   */
  @Test
  void theProcessesAStopSignalsInAnExecTasksTreeAreKnownByTheTasksMark() throws Exception {
    PidWindow before = windowStart();
    ManualScheduler signaller = new ManualScheduler();
    try (ExecHandler exec = ShellExec.withSignaller(signaller)) {
      ExecContainment.Run run = containment.mark(new ProcessBuilder("/bin/true"));
      Process sh =
          new ProcessBuilder("/bin/sh", "-c", "trap '' TERM; /bin/sleep 600 & /bin/sleep 600; wait")
              .start();
      spawned.add(sh.toHandle());
      await().atMost(Duration.ofSeconds(10)).until(() -> sh.descendants().count() == 2);
      List<ProcessHandle> sleeps = sh.descendants().toList();
      spawned.addAll(sleeps);

      exec.treeOf(sh, run).terminate();
      signaller.runDue(); // the generations: the sleeps, then the shell, each told to stop

      assertThat(sleeps).allMatch(ProcessHandle::isAlive);
      for (ProcessHandle sleep : sleeps) {
        assertThat(
                marksOf(
                    ExecContainment.scan(PidWindow.allocatedSince(List.of(before))), sleep.pid()))
            .as("known by its tree's mark, not read")
            .containsExactly(run.mark());
      }
    }
  }

  /**
   * A search finds only what it looks for: the processes of its own runs (and of workers that are
   * gone). Another run of this worker, still running, is passed over, whether its process was read
   * or is a member of its tree that a kill made known; it is that run's own search that ends it.
   */
  @Test
  void aSearchForOneRunPassesOverTheProcessesOfAnotherRun() throws Exception {
    PidWindow before = windowStart();
    ExecContainment.Run mine = containment.mark(new ProcessBuilder("/bin/true"));
    ExecContainment.Run other = containment.mark(new ProcessBuilder("/bin/true"));
    Process ours = marked(mine);
    Process theirs = marked(other);
    Process theirMember = new ProcessBuilder("/bin/sleep", "600").start();
    spawned.add(theirMember.toHandle());
    containment.inTree(other, theirMember.toHandle());

    List<ExecContainment.Marked> found =
        ExecContainment.scan(
            PidWindow.allocatedSince(List.of(before)), ExecContainment.Search.forRun(mine));

    assertThat(marksOf(found, ours.pid())).containsExactly(mine.mark());
    assertThat(marksOf(found, theirs.pid())).as("read, and passed over").isEmpty();
    assertThat(marksOf(found, theirMember.pid())).as("known, and passed over").isEmpty();
  }

  /**
   * A tree member known by its run's mark holds its id only while it lives: once it has ended, the
   * id may be handed out again, to a process of the very run being searched for. A search passes
   * over another run's member unread only when that run began after the search's own moment, when
   * no id allocated since can have been handed out twice; otherwise it looks, and finds the process
   * that holds the id now. The member here ended, and its id is held by a process of the searched
   * run, as after a whole cycle of ids.
   */
  @Test
  void anEndedTreeMemberOfAnOlderRunDoesNotHideTheProcessThatHoldsItsIdNow() throws Exception {
    PidWindow before = windowStart();
    ExecContainment.Run older = containment.mark(new ProcessBuilder("/bin/true"));
    Process ended = new ProcessBuilder("/bin/true").start();
    ended.waitFor();
    ExecContainment.Run searched = containment.mark(new ProcessBuilder("/bin/true"));
    Process holder = marked(searched);
    containment.inTree(older, holder.pid(), ended.toHandle());

    List<ExecContainment.Marked> found =
        ExecContainment.scan(
            PidWindow.allocatedSince(List.of(before)), ExecContainment.Search.forRun(searched));

    assertThat(marksOf(found, holder.pid())).containsExactly(searched.mark());
  }

  /**
   * Without a window (every process listed, as when a worker starts or a whole cycle of ids may
   * have passed) no id is known to be still its member's: even a member of a run newer than the
   * search is looked at, and the process that holds its id now is found.
   */
  @Test
  void withoutAWindowAnEndedTreeMemberOfANewerRunDoesNotHideTheProcessThatHoldsItsId()
      throws Exception {
    ExecContainment.Run searched = containment.mark(new ProcessBuilder("/bin/true"));
    assumeTrue(searched.started() != null, "needs ns_last_pid and /proc/stat");
    Process holder = marked(searched);
    Process ended = new ProcessBuilder("/bin/true").start();
    ended.waitFor();
    ExecContainment.Run newer = containment.mark(new ProcessBuilder("/bin/true"));
    containment.inTree(newer, holder.pid(), ended.toHandle());

    List<ExecContainment.Marked> found =
        ExecContainment.scan(null, ExecContainment.Search.forRun(searched));

    assertThat(marksOf(found, holder.pid())).containsExactly(searched.mark());
  }

  /**
   * With more ids to read than it looks up one by one, a search lists {@code /proc} and reads only
   * the processes among them: a marked JVM, whose threads' ids are in the window too, is found
   * once, as its process.
   */
  @Test
  void aSearchWithManyIdsToReadFindsAMarkedProcessOnceAndNotItsThreads() throws Exception {
    PidWindow before = windowStart();
    ExecContainment.Run run = containment.mark(new ProcessBuilder("/bin/true"));
    ProcessBuilder pb =
        new ProcessBuilder(
            ProcessHandle.current().info().command().orElseThrow(),
            "-XX:TieredStopAtLevel=1",
            "-cp",
            System.getProperty("java.class.path"),
            IdleJvm.class.getName());
    pb.environment().put(ExecContainment.VARIABLE, run.mark());
    Process jvm =
        pb.redirectErrorStream(true).redirectOutput(dir.resolve("jvm.out").toFile()).start();
    spawned.add(jvm.toHandle());
    Path threads = Path.of("/proc", Long.toString(jvm.pid()), "task");
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> countOf(threads) > ExecContainment.LOOKED_UP_IDS);

    List<ExecContainment.Marked> found =
        ExecContainment.scan(
            PidWindow.allocatedSince(List.of(before)), ExecContainment.Search.forRun(run));

    assertThat(found).extracting(m -> m.process().pid()).containsExactly(jvm.pid());
  }

  /** A JVM that waits to be killed: its threads carry its environment's mark. */
  static final class IdleJvm {
    public static void main(String[] args) throws InterruptedException {
      new CountDownLatch(1).await(); // until killed
    }
  }

  private static long countOf(Path directory) throws java.io.IOException {
    try (var entries = Files.list(directory)) {
      return entries.count();
    }
  }

  /** The moment before a test starts its processes: their ids are allocated after it. */
  private static PidWindow windowStart() {
    PidWindow before = PidWindow.before();
    assumeTrue(before != null, "needs ns_last_pid and /proc/stat");
    return before;
  }

  /** A process marked as one of the run's (a sleep that outlives the test only if it fails). */
  private Process marked(ExecContainment.Run run) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("/bin/sleep", "600");
    pb.environment().put(ExecContainment.VARIABLE, run.mark());
    Process p = pb.start();
    spawned.add(p.toHandle());
    return p;
  }

  private static List<String> marksOf(List<ExecContainment.Marked> found, long pid) {
    return found.stream()
        .filter(m -> m.process().pid() == pid)
        .map(ExecContainment.Marked::mark)
        .toList();
  }
}
