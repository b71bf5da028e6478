package dev.conveyor.worker.handlers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A child process and everything it started: signalled together, waited for together.
 *
 * <p>A kill ends the leaves first, while their parents still live and can reap them, and the root
 * last, which the JVM reaps. Only descendants whose parent does not reap them are left to init.
 *
 * <p>Everything here is kept cheap because a {@code kill --all} ends many trees at once on a few
 * CPUs: the tree is read by process id from the children lists in {@code /proc}, each process is
 * looked up and signalled once, and the waits for reaping poll ever less often.
 */
public final class ProcessTree {

  private static final int MAX_ROUNDS = 5;

  /** How long a living parent gets to reap the children we just signalled. */
  private static final Duration ROUND_WAIT = Duration.ofMillis(50);

  /** The first pause between two looks at {@code /proc}; it doubles up to {@link #MAX_POLL}. */
  private static final long FIRST_POLL = 250_000;

  private static final long MAX_POLL = 1_000_000;

  private static final boolean PROCFS = Files.isDirectory(Path.of("/proc/self"));

  /** Whether this kernel lists children per thread in {@code /proc} (CONFIG_PROC_CHILDREN). */
  private static final boolean CHILDREN_FILES =
      Files.isRegularFile(
          Path.of("/proc/self/task/" + ProcessHandle.current().pid() + "/children"));

  private static final Logger log = LoggerFactory.getLogger(ProcessTree.class);

  private final Process root;
  private final Executor signaller;
  private final Path proc;
  private final Consumer<ProcessHandle> members;
  private volatile boolean walkFailureLogged;
  private final Set<ProcessHandle> signalled = ConcurrentHashMap.newKeySet();
  private volatile boolean killed;
  private volatile boolean signalSent;

  /**
   * @param signaller runs the generations of a tree, which wait for each other; a pool of platform
   *     threads, as a thread started per kill cost CPU (docs/benchmarks.md) when many trees end at
   *     once, and a virtual thread waited for a carrier
   */
  public ProcessTree(Process root, Executor signaller) {
    this(root, signaller, p -> {});
  }

  /**
   * @param members told of every process of the tree below the root as it is signalled
   */
  ProcessTree(Process root, Executor signaller, Consumer<ProcessHandle> members) {
    this(root, signaller, Path.of("/proc"), members);
  }

  /**
   * @param proc where the children lists are read: {@code /proc}, or in a test one that fails
   */
  ProcessTree(Process root, Executor signaller, Path proc, Consumer<ProcessHandle> members) {
    this.root = root;
    this.signaller = signaller;
    this.proc = proc;
    this.members = members;
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
   * generations, each given up to 50 ms to be reaped by its parent, are signalled on the signaller.
   */
  public void kill() {
    signal(true);
  }

  /**
   * Whether a stop or kill was sent to this tree. A root that outlives its killed children may
   * still exit 0 (a shell's {@code wait} does), which says nothing about the task having finished.
   */
  boolean wasSignalled() {
    return signalSent;
  }

  private void signal(boolean force) {
    signalSent = true;
    List<Long> rootChildren;
    synchronized (this) {
      if (killed) {
        return; // after a kill, a SIGTERM is moot and a second kill has nothing to add
      }
      if (force) {
        killed = true;
        signalled.stream().filter(ProcessTree::running).forEach(ProcessHandle::destroyForcibly);
      }
      rootChildren = childrenOf(root.pid());
      if (rootChildren.isEmpty()) {
        signalRoot(force);
        return;
      }
    }
    signaller.execute(() -> signalLeavesFirst(force, rootChildren));
  }

  /**
   * Signals generation after generation, each process once; the waits between them hold no lock.
   * The root goes when nothing is left below it, or after {@link #MAX_ROUNDS}.
   */
  private void signalLeavesFirst(boolean force, List<Long> rootChildren) {
    Set<Long> sent = new HashSet<>();
    List<Long> below = descendants(rootChildren);
    for (int round = 0; round < MAX_ROUNDS && !below.isEmpty(); round++) {
      synchronized (this) {
        if (!force && killed) {
          return; // a kill overtook this SIGTERM
        }
        for (int i = below.size() - 1; i >= 0; i--) {
          long pid = below.get(i);
          if (sent.add(pid)) {
            ProcessHandle.of(pid).ifPresent(p -> send(p, force));
          }
        }
      }
      awaitReaped(below, ROUND_WAIT);
      below = descendants(childrenOf(root.pid()));
    }
    synchronized (this) {
      if (!force && killed) {
        return;
      }
      signalRoot(force);
    }
  }

  private void send(ProcessHandle p, boolean force) {
    signalled.add(p);
    members.accept(p);
    if (force) {
      p.destroyForcibly();
    } else {
      p.destroy();
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
   * Called once the root has been waited for (and so reaped): waits until every other signalled
   * process is dead and then, briefly, until it is reaped (its {@code /proc} entry gone; Java
   * already calls a zombie dead). An orphan still unreaped after that is init's: containers need
   * one ({@code init: true} in compose). For a lone child there is nothing left to look at.
   */
  public void awaitGone(Duration timeout) {
    long rootPid = root.pid();
    List<ProcessHandle> targets = signalled.stream().filter(p -> p.pid() != rootPid).toList();
    if (targets.isEmpty()) {
      return;
    }
    long end = System.nanoTime() + timeout.toNanos();
    for (ProcessHandle p : targets) {
      awaitNot(() -> running(p), end);
    }
    awaitReaped(targets.stream().map(ProcessHandle::pid).toList(), Duration.ofMillis(200));
  }

  /**
   * The given children of the root and all their descendants, parents before children. Linux lists
   * each thread's children in {@code /proc/<pid>/task/<tid>/children}, which is far cheaper than
   * {@link ProcessHandle#descendants()}'s scan of every process on the machine; the scan is the
   * fallback.
   */
  private List<Long> descendants(List<Long> rootChildren) {
    if (!CHILDREN_FILES) {
      return root.descendants().map(ProcessHandle::pid).toList();
    }
    List<Long> out = new ArrayList<>(rootChildren);
    ArrayDeque<Long> pending = new ArrayDeque<>(rootChildren);
    while (!pending.isEmpty()) {
      List<Long> children = childrenOf(pending.poll());
      out.addAll(children);
      pending.addAll(children);
    }
    return out;
  }

  /** The children of one process, from the children lists of all its threads. */
  private List<Long> childrenOf(long pid) {
    if (!CHILDREN_FILES) {
      return ProcessHandle.of(pid).stream()
          .flatMap(ProcessHandle::children)
          .map(ProcessHandle::pid)
          .toList();
    }
    List<Long> out = new ArrayList<>();
    try (var tasks = Files.newDirectoryStream(proc.resolve(pid + "/task"))) {
      for (Path task : tasks) {
        String children;
        try {
          children = Files.readString(task.resolve("children"));
        } catch (IOException e) {
          if (!Files.exists(task)) {
            continue; // the thread ended; its children are listed under another one
          }
          throw e;
        }
        for (String child : children.trim().split("\\s+")) {
          if (!child.isEmpty()) {
            out.add(Long.parseLong(child));
          }
        }
      }
    } catch (NoSuchFileException e) {
      return List.of(); // the process went while we looked: it has no children to signal
    } catch (IOException | NumberFormatException e) {
      if (!Files.exists(proc.resolve(Long.toString(pid)))) {
        return List.of(); // went meanwhile
      }
      return walkFailed(pid, e);
    }
    return out;
  }

  /**
   * The children list of a live process could not be read: rather than signal the root alone and
   * leave its descendants running, find them by the slower scan of every process, and say so.
   */
  private List<Long> walkFailed(long pid, Exception e) {
    ExecStats.TREE_WALK_FAILURES.increment();
    if (!walkFailureLogged) {
      walkFailureLogged = true;
      log.warn(
          "exec: cannot read the children of process {} in {} ({}); scanning every process"
              + " instead",
          pid,
          proc,
          e.toString());
    }
    return ProcessHandle.of(pid).stream()
        .flatMap(ProcessHandle::children)
        .map(ProcessHandle::pid)
        .toList();
  }

  /** Waits, at most the timeout, until the processes' {@code /proc} entries are gone. */
  private static void awaitReaped(List<Long> pids, Duration timeout) {
    long end = System.nanoTime() + timeout.toNanos();
    for (long pid : pids) {
      awaitNot(() -> exists(pid), end);
    }
  }

  private static boolean exists(long pid) {
    return PROCFS
        ? Files.exists(Path.of("/proc/" + pid))
        : ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  /**
   * Polls until the condition is false or the deadline passes, a little less often each time: a
   * parent busy on a loaded machine may take milliseconds to reap, and sixteen trees polling every
   * half millisecond kept the CPUs it needed busy. Not interruptible: a kill interrupts the handler
   * thread, and the wait must still happen.
   */
  private static void awaitNot(java.util.function.BooleanSupplier condition, long end) {
    long pause = FIRST_POLL;
    while (condition.getAsBoolean() && System.nanoTime() < end) {
      LockSupport.parkNanos(pause);
      pause = Math.min(pause * 2, MAX_POLL);
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
    Path stat = Path.of("/proc/" + p.pid() + "/stat");
    if (!Files.exists(stat)) {
      return false; // reaped: cheaper to ask than to catch the exception of reading it
    }
    try {
      String text = Files.readString(stat);
      // "pid (comm) S …": the state follows the last ')', as comm may contain spaces or parens.
      int close = text.lastIndexOf(')');
      return close > 0 && close + 2 < text.length() && text.charAt(close + 2) != 'Z' && p.isAlive();
    } catch (IOException e) {
      return false; // reaped meanwhile
    }
  }
}
