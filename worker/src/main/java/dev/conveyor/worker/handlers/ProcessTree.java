package dev.conveyor.worker.handlers;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A child process and everything it started: signalled together, waited for together. */
final class ProcessTree {

  private final Process root;
  private final List<ProcessHandle> signalled = new ArrayList<>();

  ProcessTree(Process root) {
    this.root = root;
  }

  /** SIGTERM to the whole tree: the cooperative request. */
  synchronized void terminate() {
    for (ProcessHandle p : members()) {
      p.destroy();
    }
  }

  /**
   * SIGKILL to the whole tree. Children first seen here are remembered so that {@link
   * #awaitGone} also waits for the grandchildren that init reaps.
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

  /** Waits until every process that was killed is gone (reaped), up to the timeout. */
  void awaitGone(Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    List<ProcessHandle> targets;
    synchronized (this) {
      targets = List.copyOf(signalled);
    }
    for (ProcessHandle p : targets) {
      long left = end - System.nanoTime();
      if (left <= 0) {
        return;
      }
      try {
        p.onExit().get(left, TimeUnit.NANOSECONDS);
      } catch (ExecutionException | TimeoutException e) {
        return;
      }
    }
  }
}
