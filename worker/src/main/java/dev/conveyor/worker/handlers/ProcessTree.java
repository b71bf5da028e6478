package dev.conveyor.worker.handlers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * A child process and everything it started: signalled together, waited for together.
 *
 * <p>A kill ends the leaves first, while their parents still live and can reap them, and the root
 * last, which the JVM reaps. Only descendants whose parent does not reap them are left to init.
 */
final class ProcessTree {

  private static final int MAX_ROUNDS = 5;

  /** How long a living parent gets to reap the children we just signalled. */
  private static final Duration ROUND_WAIT = Duration.ofMillis(50);

  private static final boolean PROCFS = Files.isDirectory(Path.of("/proc/self"));

  /** Whether this kernel lists children per thread in {@code /proc} (CONFIG_PROC_CHILDREN). */
  private static final boolean CHILDREN_FILES =
      Files.isRegularFile(
          Path.of("/proc/self/task/" + ProcessHandle.current().pid() + "/children"));

  private final Process root;
  private final Set<ProcessHandle> signalled = ConcurrentHashMap.newKeySet();
  private volatile boolean killed;

  ProcessTree(Process root) {
    this.root = root;
  }

  /**
   * SIGTERM to the whole tree, leaves first: the cooperative request (moot after a kill). Returns
   * at once, like {@link #kill}.
   */
  void terminate() {
    signal(false);
  }

  /**
   * SIGKILL to the whole tree, leaves first, and to anything signalled before that has outlived its
   * parent. Returns at once: a lone child is signalled on the caller's thread; a tree's
   * generations, each given up to 50 ms to be reaped by its parent, are signalled by a thread of
   * their own (not on a virtual thread: with 16 kills at once, some waited 10-15 ms for a free
   * carrier).
   */
  void kill() {
    signal(true);
  }

  private void signal(boolean force) {
    synchronized (this) {
      if (killed) {
        return; // after a kill, a SIGTERM is moot and a second kill has nothing to add
      }
      if (force) {
        killed = true;
        signalled.stream().filter(ProcessTree::running).forEach(ProcessHandle::destroyForcibly);
      }
      if (!rootHasChildren()) {
        signalRoot(force);
        return;
      }
    }
    Thread.ofPlatform()
        .name(force ? "conveyor-exec-kill" : "conveyor-exec-term")
        .daemon()
        .start(() -> signalLeavesFirst(force));
  }

  /** Signals generation after generation; the waits between them hold no lock. */
  private void signalLeavesFirst(boolean force) {
    for (int round = 0; round < MAX_ROUNDS; round++) {
      List<ProcessHandle> below;
      synchronized (this) {
        if (!force && killed) {
          return; // a kill overtook this SIGTERM
        }
        below = descendants().stream().filter(ProcessTree::running).toList();
        if (below.isEmpty()) {
          break;
        }
        signalled.addAll(below);
        for (int i = below.size() - 1; i >= 0; i--) {
          if (force) {
            below.get(i).destroyForcibly();
          } else {
            below.get(i).destroy();
          }
        }
      }
      awaitReaped(below, ROUND_WAIT);
    }
    synchronized (this) {
      if (!force && killed) {
        return;
      }
      signalRoot(force);
    }
  }

  private void signalRoot(boolean force) {
    signalled.add(root.toHandle());
    if (force) {
      root.destroyForcibly();
    } else {
      root.destroy();
    }
  }

  /**
   * Waits until every signalled process is dead and then, briefly, until it is reaped (its {@code
   * /proc} entry gone; Java already calls a zombie dead). An orphan still unreaped after that is
   * init's: containers need one ({@code init: true} in compose).
   */
  void awaitGone(Duration timeout) {
    List<ProcessHandle> targets = List.copyOf(signalled);
    awaitDead(targets, timeout);
    awaitReaped(targets, Duration.ofMillis(200));
  }

  /**
   * The root's descendants, parents before children. Linux lists each thread's children in {@code
   * /proc/<pid>/task/<tid>/children}, which is far cheaper than {@link
   * ProcessHandle#descendants()}'s scan of every process on the machine; the scan is the fallback.
   */
  private List<ProcessHandle> descendants() {
    if (!CHILDREN_FILES) {
      return root.descendants().toList();
    }
    List<ProcessHandle> out = new ArrayList<>();
    ArrayDeque<Long> pending = new ArrayDeque<>(List.of(root.pid()));
    while (!pending.isEmpty()) {
      for (long child : childrenOf(pending.poll())) {
        ProcessHandle.of(child).ifPresent(out::add);
        pending.add(child);
      }
    }
    return out;
  }

  /**
   * Whether the root has a child now: one generation read, where {@link #descendants()} walks the
   * whole tree — this runs on the caller's thread and is kept short.
   */
  private boolean rootHasChildren() {
    return CHILDREN_FILES
        ? !childrenOf(root.pid()).isEmpty()
        : root.children().findAny().isPresent();
  }

  /** The children of one process, from the children lists of all its threads. */
  private static List<Long> childrenOf(long pid) {
    List<Long> out = new ArrayList<>();
    try (var tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
      for (Path task : tasks) {
        for (String child : Files.readString(task.resolve("children")).trim().split("\\s+")) {
          if (!child.isEmpty()) {
            out.add(Long.parseLong(child));
          }
        }
      }
    } catch (IOException | NumberFormatException e) {
      // The process went while we looked: it has no children to signal.
    }
    return out;
  }

  /** Waits, at most the timeout, until the processes' {@code /proc} entries are gone. */
  private static void awaitReaped(List<ProcessHandle> processes, Duration timeout) {
    if (!PROCFS) {
      awaitDead(processes, timeout);
      return;
    }
    long end = System.nanoTime() + timeout.toNanos();
    for (ProcessHandle p : processes) {
      while (Files.exists(Path.of("/proc/" + p.pid())) && System.nanoTime() < end) {
        // Not interruptible: a kill interrupts the handler thread, and the wait must still happen.
        LockSupport.parkNanos(500_000);
      }
    }
  }

  private static void awaitDead(List<ProcessHandle> processes, Duration timeout) {
    long end = System.nanoTime() + timeout.toNanos();
    for (ProcessHandle p : processes) {
      while (running(p) && System.nanoTime() < end) {
        LockSupport.parkNanos(500_000);
      }
    }
  }

  /**
   * Whether the process still runs. A zombie has finished — only its reaping is pending — though
   * {@link ProcessHandle#isAlive()} says it is alive, so on Linux the state in {@code /proc}
   * decides.
   */
  static boolean running(ProcessHandle p) {
    if (!PROCFS) {
      return p.isAlive();
    }
    try {
      String stat = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
      // "pid (comm) S …": the state follows the last ')', as comm may contain spaces or parens.
      int close = stat.lastIndexOf(')');
      return close > 0 && close + 2 < stat.length() && stat.charAt(close + 2) != 'Z' && p.isAlive();
    } catch (IOException e) {
      return false; // gone: reaped
    }
  }
}
