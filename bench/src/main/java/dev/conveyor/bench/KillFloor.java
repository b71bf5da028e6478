package dev.conveyor.bench;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The baseline of a {@code kill --all} of exec tasks: the same processes, started and killed by
 * this JVM itself, without a broker, a worker or an event. What it measures is what the kernel and
 * the JDK's process reaper take to end and reap them on this host, the floor under any worker's
 * figure. Run in the same benchmark as Conveyor's rounds, so that both see the same host.
 *
 * <p>A kill is timed from the first signal to the last root process reaped. The leaves of a tree
 * are signalled first, as the worker does, and the shell reaps them and exits by itself; the
 * processes are found before the clock starts, so the floor holds no search.
 */
final class KillFloor {
  private final List<String> command;
  private final int childrenPerRoot;

  /**
   * @param command the task's command
   * @param childrenPerRoot the children each root has once it runs, the leaves that are signalled;
   *     0: the root is the leaf
   */
  KillFloor(List<String> command, int childrenPerRoot) {
    this.command = command;
    this.childrenPerRoot = childrenPerRoot;
  }

  /**
   * Kills {@code roots} processes at once, {@code warmup + rounds} times, and returns the counted
   * rounds' times in milliseconds.
   */
  List<Double> measure(int roots, int warmup, int rounds, long settleMs, int timeoutSeconds)
      throws IOException, InterruptedException {
    List<Double> out = new ArrayList<>();
    for (int i = 1 - warmup; i <= rounds; i++) {
      double ms = round(roots, settleMs, timeoutSeconds);
      if (i >= 1) {
        out.add(ms);
      }
    }
    return out;
  }

  private double round(int count, long settleMs, int timeoutSeconds)
      throws IOException, InterruptedException {
    List<Process> roots = new ArrayList<>(count);
    try {
      for (int i = 0; i < count; i++) {
        roots.add(
            new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectErrorStream(true)
                .start());
      }
      List<ProcessHandle> leaves = awaitLeaves(roots, timeoutSeconds);
      Harness.sleep(settleMs);
      long start = System.nanoTime();
      leaves.forEach(ProcessHandle::destroyForcibly);
      for (Process root : roots) {
        if (!root.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
          throw new IllegalStateException("a killed process tree did not end in time");
        }
      }
      return Stats.millis(System.nanoTime() - start);
    } finally {
      for (Process root : roots) { // whatever a failed round left
        root.descendants().forEach(ProcessHandle::destroyForcibly);
        root.destroyForcibly();
        root.waitFor();
      }
    }
  }

  /**
   * The processes to signal once every root has its leaves running: the root itself when it starts
   * nothing, else its children, each once it runs its own program.
   */
  private List<ProcessHandle> awaitLeaves(List<Process> roots, int timeoutSeconds) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    while (true) {
      List<ProcessHandle> leaves = new ArrayList<>();
      boolean all = true;
      for (Process root : roots) {
        List<ProcessHandle> mine =
            childrenPerRoot == 0
                ? List.of(root.toHandle())
                : root.children().filter(KillFloor::execed).toList();
        all &= childrenPerRoot == 0 || mine.size() == childrenPerRoot;
        leaves.addAll(mine);
      }
      if (all) {
        return leaves;
      }
      if (System.nanoTime() > end) {
        throw new IllegalStateException("the roots' children did not all start in time");
      }
      Harness.sleep(2);
    }
  }

  /** Whether the child runs its own program yet, not still the shell it was forked from. */
  private static boolean execed(ProcessHandle p) {
    return p.info().command().map(c -> !c.endsWith("sh")).orElse(false);
  }
}
