package dev.conveyor.bench;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

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
  private final int sleepsPerRoot;

  /**
   * @param command the task's command
   * @param sleepsPerRoot the {@code sleep 600} processes of each root once it runs (itself, or its
   *     children): the leaves that are signalled
   */
  KillFloor(List<String> command, int sleepsPerRoot) {
    this.command = command;
    this.sleepsPerRoot = sleepsPerRoot;
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
      List<ProcessHandle> all =
          StopLatencyBench.awaitSleeps(
              () ->
                  roots.stream()
                      .flatMap(r -> Stream.concat(Stream.of(r.toHandle()), r.descendants())),
              count * sleepsPerRoot,
              timeoutSeconds);
      if (all == null) {
        throw new IllegalStateException("the processes to kill did not all start in time");
      }
      List<ProcessHandle> leaves = all.stream().filter(StopLatencyBench::isSleep600).toList();
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
}
