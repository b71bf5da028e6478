package dev.conveyor.worker.handlers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongConsumer;
import java.util.function.LongPredicate;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes an {@code exec} task's processes end with the task, including those that left its process
 * tree.
 *
 * <p>Why a mark in the environment: a process that daemonises ({@code setsid prog &}, a double
 * fork) leaves both the task's process group and its tree — it is re-parented to init, so no walk
 * from the task's root finds it — and after a SIGKILL of the worker every child of the worker is
 * re-parented the same way. What such processes keep is their environment, which every child
 * inherits. So each task's process starts with {@value #VARIABLE}{@code =<pid namespace>:<worker
 * pid>:<worker start time>:<run>} and:
 *
 * <ul>
 *   <li>when the task's main process has ended, whatever the outcome, every process still carrying
 *       that run's mark is killed (SIGKILL), before the task is reported;
 *   <li>when a worker starts, every process carrying the mark of a worker that no longer runs (its
 *       pid gone or reused, judged by its start time) is killed: the orphans of a worker that was
 *       killed or crashed end when the next worker on the host starts. A task's search ends those
 *       it comes across too.
 * </ul>
 *
 * <p>Other designs did not hold here: a cgroup per task needs a writable, delegated cgroup tree
 * (not the case for the non-root user of the image), Java cannot make the worker a child subreaper
 * ({@code prctl}), and a process group or session is escaped by {@code setsid}. The mark's limit: a
 * process that clears or rewrites its own environment ({@code env -i}, some daemons) is not found.
 * Linux only ({@code /proc}); elsewhere nothing is swept.
 *
 * <p>Finding marked processes means reading their environment. At a worker's start every process's
 * is read. A task's search reads only those of the processes started since the task's own was about
 * to start ({@link PidWindow}: every process of the run was forked after that), and falls back to
 * every process when that cannot be told: under a {@code kill --all} the full scan was the largest
 * part of the kill (docs/benchmarks.md). Tasks that end together share one search. It reads no more
 * of a process whose mark it is not looking for (another running task's, or a live worker's), and
 * passes over the known tree members of other running tasks that began after its own.
 */
final class ExecContainment {
  private static final Logger log = LoggerFactory.getLogger(ExecContainment.class);

  static final String VARIABLE = "CONVEYOR_EXEC";

  private static final byte[] KEY = (VARIABLE + "=").getBytes(StandardCharsets.US_ASCII);

  private static final Path PROC = Path.of("/proc");

  private static final boolean PROCFS = Files.isDirectory(PROC.resolve("self"));

  private static final String NAMESPACE = namespace();

  /**
   * Up to this many ids in its window, a search goes through them and sets aside those it knows
   * (running main processes, tree members); beyond, it lists {@code /proc} and goes through the
   * processes in the window. Listing it was most of a search that read a few environments
   * (docs/benchmarks.md).
   */
  static final long PROBED_IDS = 256;

  /**
   * Of the ids it does not know, up to this many a search reads one by one; beyond, it lists {@code
   * /proc} and reads only the processes among them: the other ids are threads, whose processes have
   * ids of their own in the window. Beside other JVMs (other workers, the command line) most of
   * those ids are their threads, and a listing costs about as much as a few reads
   * (docs/benchmarks.md).
   */
  static final int LOOKED_UP_IDS = 16;

  /** How long a search reads again a process caught in the middle of an {@code exec}. */
  private static final long SETTLE_NANOS = 1_000_000_000L;

  /**
   * The bytes first read of an environment: most fit, a larger one is read whole. Zeroing a larger
   * buffer for every search was a visible part of a kill's CPU (docs/benchmarks.md).
   */
  private static final int ENVIRONMENT_BUFFER = 8 * 1024;

  /** The bytes of {@code /proc/<pid>/status} read to find its {@code Tgid}. */
  private static final int STATUS_HEAD = 512;

  /** Flags of a process that is exiting, and of a kernel thread ({@code include/linux/sched.h}). */
  private static final long PF_EXITING = 0x4;

  private static final long PF_KTHREAD = 0x00200000;

  /** Rounds of scanning until no marked process is left: each catches what forked meanwhile. */
  private static final int MAX_ROUNDS = 20;

  private static final long SELF_PID = ProcessHandle.current().pid();

  /** This worker process: pid namespace, pid and start time, so that pid reuse is no match. */
  private static final String SELF = NAMESPACE + ":" + SELF_PID + ":" + startTime(SELF_PID);

  private static final AtomicLong RUNS = new AtomicLong();

  /** The key under which a sweep counts the orphans of workers that are gone. */
  private static final String ORPHAN = "";

  /** Ended runs whose processes a sweep has yet to end. */
  private final Set<Run> pending = ConcurrentHashMap.newKeySet();

  /**
   * A run's mark, and the moment before its process started: where its processes' ids lie.
   *
   * @param started null when {@code /proc} did not say
   */
  record Run(String mark, PidWindow started) {}

  /**
   * The main processes of this JVM's exec tasks, by pid, while they run: a search need not read
   * their environments, whose marks are runs of this worker still running, never a leftover or an
   * orphan. Under a {@code kill --all} most of the processes a search came across were these, and
   * reading their environments was most of its time (docs/benchmarks.md). Static: every worker in
   * the JVM sees the same processes.
   */
  private static final Map<Long, Process> RUNNING_ROOTS = new ConcurrentHashMap<>();

  /**
   * The processes below the main processes of this JVM's exec tasks that a kill has signalled, by
   * pid, with their task's mark (which they inherited): a search knows their mark without reading
   * their environment while they live. Under a {@code kill --all} of process trees most processes a
   * search came across were other tasks' dying children, and reading their environments tripled its
   * median (docs/benchmarks.md). Forgotten once their task's search is done.
   */
  private static final Map<Long, Member> TREE_MEMBERS = new ConcurrentHashMap<>();

  /**
   * A process of a run's tree that a kill signalled, with the run's mark and the moment before the
   * run's process started (null when {@code /proc} did not say): its id was allocated after it.
   */
  private record Member(ProcessHandle process, String mark, PidWindow runStarted) {}

  private final Object scanning = new Object();

  /**
   * Marks the process about to start with a mark of its own and returns the run. Call it just
   * before the process starts.
   */
  Run mark(ProcessBuilder pb) {
    String mark = SELF + ":" + RUNS.incrementAndGet();
    pb.environment().put(VARIABLE, mark);
    return new Run(mark, PROCFS ? PidWindow.before() : null);
  }

  /** The task's main process has started; {@link #forget} it once it has ended. */
  void started(Process root) {
    RUNNING_ROOTS.put(root.pid(), root);
  }

  void forget(Process root) {
    RUNNING_ROOTS.remove(root.pid(), root);
  }

  /** A process below the run's main process, found and signalled by a kill of its tree. */
  void inTree(Run run, ProcessHandle process) {
    inTree(run, process.pid(), process);
  }

  /** {@link #inTree(Run, ProcessHandle)}: the process that held the id when it was signalled. */
  void inTree(Run run, long pid, ProcessHandle process) {
    if (PROCFS) { // elsewhere no search runs, nor forgets
      TREE_MEMBERS.put(pid, new Member(process, run.mark(), run.started()));
    }
  }

  /**
   * Whether the pid is a running main process of this JVM's exec tasks. The JDK says whether it has
   * ended without asking the system; until then its pid cannot have been reused, since it has not
   * been reaped (or was reaped just now: the kernel hands that id out again only after a whole
   * cycle of ids).
   */
  private static boolean runningRoot(long pid) {
    Process p = RUNNING_ROOTS.get(pid);
    return p != null && p.isAlive();
  }

  /**
   * Kills every process that still carries the mark; returns once none runs. Called when the task's
   * main process has ended and been reaped.
   */
  void endLeftovers(Run run, String taskId) {
    if (!PROCFS) {
      return;
    }
    pending.add(run);
    synchronized (scanning) {
      if (!pending.contains(run)) {
        return; // a sweep that began after ours was added has covered it
      }
      Set<Run> runs = Set.copyOf(pending);
      Set<String> marks = new HashSet<>();
      runs.forEach(r -> marks.add(r.mark()));
      Map<String, Integer> ended = sweep(marks, started(runs));
      pending.removeAll(runs);
      TREE_MEMBERS.values().removeIf(m -> marks.contains(m.mark()));
      int n = ended.getOrDefault(run.mark(), 0);
      if (n > 0) {
        log.info("exec task {}: ended {} process(es) it left running", taskId, n);
      }
    }
  }

  /**
   * Kills the processes of exec tasks whose worker no longer runs: called when a worker starts.
   *
   * @return how many were killed
   */
  int endOrphans() {
    if (!PROCFS) {
      return 0;
    }
    synchronized (scanning) {
      return sweep(Set.of(), null).getOrDefault(ORPHAN, 0);
    }
  }

  /** The moments before these runs' processes started; null if one is unknown. */
  private static List<PidWindow> started(Collection<Run> runs) {
    List<PidWindow> out = new ArrayList<>(runs.size());
    for (Run r : runs) {
      if (r.started() == null) {
        return null;
      }
      out.add(r.started());
    }
    return out;
  }

  /**
   * Kills, round after round, every running process marked with one of the marks or by a worker
   * that is gone, until a scan finds none. Returns the count per mark ({@link #ORPHAN} for the
   * orphans).
   *
   * @param since only processes started after one of these moments are looked at; null: all
   */
  private Map<String, Integer> sweep(Set<String> marks, List<PidWindow> since) {
    Map<String, Integer> ended = new HashMap<>();
    Map<String, Boolean> workerAlive = new HashMap<>();
    Search search =
        new Search(
            mark -> marks.contains(mark) || orphan(mark, workerAlive),
            since == null
                ? Long.MAX_VALUE
                : since.stream().mapToLong(PidWindow::forks).min().orElse(Long.MAX_VALUE));
    Set<Long> orphanWorkers = new HashSet<>();
    for (int round = 0; round < MAX_ROUNDS; round++) {
      List<ProcessHandle> found = new ArrayList<>();
      // Read anew each round: what forked meanwhile is in the next.
      for (Marked m : scan(since == null ? null : PidWindow.allocatedSince(since), search)) {
        String key;
        if (marks.contains(m.mark)) {
          key = m.mark;
        } else {
          key = ORPHAN;
          orphanWorkers.add(workerPid(m.mark));
        }
        ProcessHandle p = m.process;
        if (ProcessTree.running(p)) {
          p.destroyForcibly();
          found.add(p);
          ended.merge(key, 1, Integer::sum);
        }
      }
      if (found.isEmpty()) {
        break;
      }
      awaitEnded(found);
      if (round == MAX_ROUNDS - 1) {
        log.warn("exec: marked processes kept appearing after {} rounds of kills", MAX_ROUNDS);
      }
    }
    int tasks =
        ended.entrySet().stream()
            .filter(e -> !e.getKey().equals(ORPHAN))
            .mapToInt(Map.Entry::getValue)
            .sum();
    ExecStats.LEFTOVERS_ENDED.add(tasks);
    int orphans = ended.getOrDefault(ORPHAN, 0);
    if (orphans > 0) {
      ExecStats.ORPHANS_ENDED.add(orphans);
      log.warn(
          "exec: ended {} process(es) of tasks of a worker that is gone (pid {})",
          orphans,
          orphanWorkers);
    }
    return ended;
  }

  /** Whether the mark names a worker of this pid namespace that no longer runs. */
  private static boolean orphan(String mark, Map<String, Boolean> workerAlive) {
    int last = mark.lastIndexOf(':');
    if (last < 0) {
      return false;
    }
    String worker = mark.substring(0, last);
    if (worker.equals(SELF)) {
      return false; // one of ours still running: its own task's sweep ends it
    }
    String[] parts = worker.split(":");
    if (parts.length != 3 || !parts[0].equals(NAMESPACE)) {
      return false; // another pid namespace: its pids mean other processes here
    }
    return !workerAlive.computeIfAbsent(
        worker,
        w -> {
          try {
            return startTime(Long.parseLong(parts[1])).equals(parts[2]);
          } catch (NumberFormatException e) {
            return true; // not a mark we made: leave it alone
          }
        });
  }

  private static long workerPid(String mark) {
    try {
      return Long.parseLong(mark.split(":")[1]);
    } catch (RuntimeException e) {
      return -1;
    }
  }

  record Marked(ProcessHandle process, String mark) {}

  /**
   * What a search looks for.
   *
   * @param wanted whether a mark is one it looks for: a process with another mark is passed over
   *     without reading more of it
   * @param runsSince the processes' forks count ({@link PidWindow#forks}) at the earliest moment
   *     the search's ids were allocated after; {@link Long#MAX_VALUE} when not known. A tree member
   *     of another run that began after it holds its id while the search's window holds: the id has
   *     not been handed out again since it was allocated, so the member need not be looked at.
   */
  record Search(Predicate<String> wanted, long runsSince) {
    /** Every marked process. */
    static final Search ALL = new Search(mark -> true, Long.MAX_VALUE);

    /** The processes of one run, its window from the moment before its process started. */
    static Search forRun(Run run) {
      return new Search(
          run.mark()::equals, run.started() == null ? Long.MAX_VALUE : run.started().forks());
    }
  }

  /**
   * Every process (but this one) whose environment carries a mark, and the mark.
   *
   * @param candidates the process ids worth reading; null: all
   */
  static List<Marked> scan(PidWindow.Ids candidates) {
    return scan(candidates, Search.ALL);
  }

  /** {@link #scan(PidWindow.Ids)}, of the processes the search looks for. */
  static List<Marked> scan(PidWindow.Ids candidates, Search search) {
    return scan(candidates, search, PROC, LockSupport::parkNanos);
  }

  /**
   * {@link #scan(PidWindow.Ids)} in that {@code /proc}, pausing with {@code pause} (nanoseconds)
   * before it reads again the processes it caught in the middle of an {@code exec}.
   */
  static List<Marked> scan(PidWindow.Ids candidates, Path proc, LongConsumer pause) {
    return scan(candidates, Search.ALL, proc, pause);
  }

  private static List<Marked> scan(
      PidWindow.Ids candidates, Search search, Path proc, LongConsumer pause) {
    // Without a window an id may have been handed out again at any time.
    long runsSince = candidates == null ? Long.MAX_VALUE : search.runsSince();
    Predicate<String> wanted = search.wanted();
    List<Marked> out = new ArrayList<>();
    List<Long> pending = new ArrayList<>();
    byte[] buf = new byte[ENVIRONMENT_BUFFER];
    // Whether the id is to be read; a known tree member it wants is added to out on the way.
    LongPredicate toBeRead =
        pid -> pid != SELF_PID && !runningRoot(pid) && !knownMember(pid, search, runsSince, out);
    if (candidates != null && candidates.count() <= PROBED_IDS) {
      List<Long> toRead = new ArrayList<>();
      candidates.forEach(
          pid -> {
            if (toBeRead.test(pid)) {
              toRead.add(pid);
            }
          });
      if (toRead.size() <= LOOKED_UP_IDS) {
        // Few to read: looking each up costs less than listing /proc.
        for (long pid : toRead) {
          Path dir = proc.resolve(Long.toString(pid));
          // A thread's id leads to its process too (/proc shows it, though it does not list
          // it); its process, forked after the moment too, has its own id in the window.
          if (Files.exists(dir)) {
            read(pid, dir, buf, wanted, out, pending, true);
          }
        }
      } else {
        // Many: most are other programs' threads, which /proc does not list, nor need be read.
        long[] processes = listProcesses(proc);
        for (long pid : toRead) {
          if (Arrays.binarySearch(processes, pid) >= 0) {
            read(pid, proc.resolve(Long.toString(pid)), buf, wanted, out, pending, false);
          }
        }
      }
    } else {
      for (long pid : listProcesses(proc)) {
        if ((candidates == null || candidates.test(pid)) && toBeRead.test(pid)) {
          read(pid, proc.resolve(Long.toString(pid)), buf, wanted, out, pending, false);
        }
      }
    }
    settle(pending, proc, buf, wanted, out, pause);
    return out;
  }

  /**
   * The ids of every process {@code /proc} lists (not their threads), sorted; none if it cannot.
   */
  private static long[] listProcesses(Path proc) {
    // File.list: one call for all the names, where a DirectoryStream makes a Path of each.
    String[] names = proc.toFile().list();
    if (names == null) {
      log.warn("exec: cannot list {} to find leftover processes", proc);
      return new long[0];
    }
    long[] ids = new long[names.length];
    int n = 0;
    for (String name : names) {
      if (!name.isEmpty() && Character.isDigit(name.charAt(0))) {
        try {
          ids[n] = Long.parseLong(name);
          n++;
        } catch (NumberFormatException e) {
          // not a process's entry
        }
      }
    }
    long[] sorted = Arrays.copyOf(ids, n);
    Arrays.sort(sorted);
    return sorted;
  }

  /**
   * Reads again, pausing a little longer each time, the processes whose environment was not there
   * to read, until it is or they have ended: a daemon a task started may be in the middle of its
   * {@code exec} just when the task's search runs, and taking it for unmarked would leave it
   * running. Gives up, and says so, after {@link #SETTLE_NANOS}.
   */
  private static void settle(
      List<Long> pending,
      Path proc,
      byte[] buf,
      Predicate<String> wanted,
      List<Marked> out,
      LongConsumer pause) {
    long end = System.nanoTime() + SETTLE_NANOS;
    long wait = 50_000;
    while (!pending.isEmpty()) {
      if (System.nanoTime() >= end) {
        log.warn(
            "exec: process(es) {} still without an environment to read after {} ms; not searched",
            pending,
            SETTLE_NANOS / 1_000_000);
        return;
      }
      pause.accept(wait);
      wait = Math.min(wait * 2, 5_000_000);
      List<Long> again = List.copyOf(pending);
      pending.clear();
      for (long pid : again) {
        Path dir = proc.resolve(Long.toString(pid));
        if (Files.exists(dir)) {
          read(pid, dir, buf, wanted, out, pending, true);
        }
      }
    }
  }

  /**
   * Whether the process, whose environment read as nothing, has one still to come: it is in the
   * middle of an {@code exec}, switched to its new memory but with the environment not laid out
   * ({@code env_end}, field 51 of its {@code stat}, is 0), or it was laid out just after the read
   * ({@code env_start} differs from {@code env_end}). Not a kernel thread, nor a process that is
   * exiting (its memory is gone) or a zombie; nor one whose environment is there and empty ({@code
   * env -i}).
   */
  private static boolean environmentPending(Path dir) {
    try {
      String stat = Files.readString(dir.resolve("stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
      char state = f[0].charAt(0);
      long flags = Long.parseLong(f[9 - 3]);
      if (state == 'Z' || state == 'X' || (flags & (PF_KTHREAD | PF_EXITING)) != 0) {
        return false;
      }
      if (f.length <= 51 - 3) {
        return true; // a kernel before 3.5 does not say: read it again, for a while
      }
      long envStart = Long.parseLong(f[50 - 3]);
      long envEnd = Long.parseLong(f[51 - 3]);
      return envEnd == 0 || envStart != envEnd;
    } catch (IOException | RuntimeException e) {
      return false; // gone
    }
  }

  /**
   * Whether the id is a {@linkplain #inTree known tree member}'s, whose environment need not be
   * read; adds it to {@code out} with its task's mark if the search wants that mark. One that has
   * ended is not known: its id may be another process's now. A member of a run the search does not
   * want is not even looked at when its run began inside the search's window ({@code runsSince}):
   * its id was allocated after the window began, and no id allocated since has been handed out
   * twice.
   */
  private static boolean knownMember(long pid, Search search, long runsSince, List<Marked> out) {
    Member m = TREE_MEMBERS.get(pid);
    if (m == null) {
      return false;
    }
    boolean wanted = search.wanted().test(m.mark());
    if (!wanted && m.runStarted() != null && m.runStarted().forks() >= runsSince) {
      return true; // another run's, allocated inside the window: the id is still its own
    }
    if (!m.process().isAlive()) {
      return false;
    }
    if (wanted) {
      out.add(new Marked(m.process(), m.mark()));
    }
    return true;
  }

  /** Whether the id is a process's, not one of its other threads': {@code Tgid} is the id. */
  private static boolean leader(Path dir, byte[] buf) {
    int len = 0;
    try (InputStream in = Files.newInputStream(dir.resolve("status"))) {
      // Tgid is on the fourth line, well within the first read.
      for (int n; len < STATUS_HEAD && (n = in.read(buf, len, STATUS_HEAD - len)) > 0; ) {
        len += n;
      }
    } catch (IOException | SecurityException e) {
      return false; // gone, or not ours to read
    }
    String head = new String(buf, 0, len, StandardCharsets.US_ASCII);
    int at = head.indexOf("\nTgid:");
    if (at < 0) {
      return false;
    }
    int end = head.indexOf('\n', at + 1);
    return head.substring(at + "\nTgid:".length(), end < 0 ? len : end)
        .trim()
        .equals(dir.getFileName().toString());
  }

  /**
   * Adds the process to {@code out} if its environment carries a mark the search wants, or to
   * {@code pending} if its environment is still to come. Of a process with another mark nothing
   * more is read.
   *
   * @param mayBeThread whether the id may be a thread's (not listed by /proc, but found there)
   */
  private static void read(
      long pid,
      Path dir,
      byte[] buf,
      Predicate<String> wanted,
      List<Marked> out,
      List<Long> pending,
      boolean mayBeThread) {
    String mark = markOf(dir.resolve("environ"), buf);
    if (mark != null && mark.isEmpty()) {
      if (environmentPending(dir)) {
        pending.add(pid);
      }
      return;
    }
    if (mark != null && wanted.test(mark) && (!mayBeThread || leader(dir, buf))) {
      // The handle keeps the start time: should the pid be reused before the kill, the kill is
      // refused rather than sent to a stranger.
      ProcessHandle.of(pid).ifPresent(handle -> out.add(new Marked(handle, mark)));
    }
  }

  /**
   * The value of the mark in a process's environment; "" when there was nothing to read (an empty
   * environment, or one not laid out yet); null when there is none, or the process is gone or not
   * ours to read.
   */
  private static String markOf(Path environ, byte[] buf) {
    int len = 0;
    try (InputStream in = Files.newInputStream(environ)) {
      int n;
      while (len < buf.length && (n = in.read(buf, len, buf.length - len)) > 0) {
        len += n;
      }
      if (len == buf.length) {
        // Larger than the buffer: read it whole, rarely.
        byte[] rest = in.readAllBytes();
        byte[] all = new byte[len + rest.length];
        System.arraycopy(buf, 0, all, 0, len);
        System.arraycopy(rest, 0, all, len, rest.length);
        return find(all, all.length);
      }
    } catch (IOException | SecurityException e) {
      return null;
    }
    return len == 0 ? "" : find(buf, len);
  }

  private static String find(byte[] env, int len) {
    int start = 0;
    while (start < len) {
      int end = start;
      while (end < len && env[end] != 0) {
        end++;
      }
      if (end - start > KEY.length && startsWithKey(env, start)) {
        return new String(
            env, start + KEY.length, end - start - KEY.length, StandardCharsets.UTF_8);
      }
      start = end + 1;
    }
    return null;
  }

  private static boolean startsWithKey(byte[] env, int at) {
    for (int i = 0; i < KEY.length; i++) {
      if (env[at + i] != KEY[i]) {
        return false;
      }
    }
    return true;
  }

  /** Waits briefly until the killed processes have ended (a SIGKILL is not instant). */
  private static void awaitEnded(List<ProcessHandle> killed) {
    long end = System.nanoTime() + 1_000_000_000L;
    long pause = 100_000;
    for (ProcessHandle p : killed) {
      while (ProcessTree.running(p) && System.nanoTime() < end) {
        LockSupport.parkNanos(pause);
        pause = Math.min(pause * 2, 5_000_000);
      }
    }
  }

  /** The pid namespace of this process, so that pids from other namespaces are not misread. */
  private static String namespace() {
    try {
      String link = Files.readSymbolicLink(PROC.resolve("self/ns/pid")).toString();
      return link.replaceAll("\\D", "");
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return "0";
    }
  }

  /** The process's start time in clock ticks since boot, or "" if it does not exist. */
  static String startTime(long pid) {
    try {
      String stat = Files.readString(PROC.resolve(pid + "/stat"));
      // "pid (comm) S ppid …": fields after the last ')', the start time is field 22.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return f.length > 19 ? f[19] : "";
    } catch (IOException | RuntimeException e) {
      return "";
    }
  }
}
