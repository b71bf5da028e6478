package dev.conveyor.worker.handlers;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.nio.file.Files;
import java.nio.file.Path;

/** A child process and everything it started: signalled together, waited for together. */
final class ProcessTree {

  private final Process root;
  private final List<ProcessHandle> signalled = new ArrayList<>();

  ProcessTree(Process root) {
    this.root = root;
  }

  /** SIGTERM to the whole tree: the cooperative request. */
  synchronized void terminate() {
    List<ProcessHandle> members = members();
    signalled.addAll(members);
    for (ProcessHandle p : members) {
      p.destroy();
    }
  }

  /**
   * SIGKILL to the whole tree. Like {@link #terminate}, it remembers whom it signalled, so that
   * {@link #awaitGone} also waits for the grandchildren that init reaps.
   */
  synchronized void kill() {
    List<ProcessHandle> members = members();
    signalled.addAll(members);
    // Descendants first, so that a parent cannot replace a child it sees die.
    for (int i = members.size() - 1; i >= 0; i--) {
      members.get(i).destroyForcibly();
    }
  }

  private List<ProcessHandle> members() {
    List<ProcessHandle> out = new ArrayList<>();
    out.add(root.toHandle());
    root.descendants().forEach(out::add);
    return out;
  }

  /**
   * Waits until every process that was killed is gone, up to the timeout. Gone means reaped: a
   * zombie still has its {@code /proc} entry (Java's {@code isAlive} already calls it dead).
   * Grandchildren are reaped by init, so containers need one ({@code init: true} in compose).
   */
  void awaitGone(Duration timeout) {
    long end = System.nanoTime() + timeout.toNanos();
    List<ProcessHandle> targets;
    synchronized (this) {
      targets = List.copyOf(signalled);
    }
    boolean procfs = Files.isDirectory(Path.of("/proc/self"));
    for (ProcessHandle p : targets) {
      while (procfs ? Files.exists(Path.of("/proc/" + p.pid())) : p.isAlive()) {
        if (System.nanoTime() > end) {
          return;
        }
        // Not interruptible: a kill interrupts this thread, and the wait must still happen.
        LockSupport.parkNanos(1_000_000);
      }
    }
  }
}
