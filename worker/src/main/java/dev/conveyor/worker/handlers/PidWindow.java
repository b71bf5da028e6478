package dev.conveyor.worker.handlers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.function.LongConsumer;
import java.util.function.LongPredicate;

/**
 * Where the process ids allocated since a moment can be: the ids a task's processes have, since
 * every one of them was forked after the task's process was about to start. The kernel hands out
 * ids in a cycle (up to {@code pid_max}, then again from the bottom), so those ids lie between the
 * last id allocated then and the last allocated now, going round; that holds while fewer ids than
 * {@code pid_max} were allocated meanwhile, which the kernel's count of forks since boot bounds
 * (threads count too, and forks in other pid namespaces: the bound only errs on the safe side).
 * What it does not cover: a process that sets {@code ns_last_pid} itself to choose the next id
 * (checkpoint/restore tools, with CAP_SYS_ADMIN) breaks the cycle.
 *
 * @param lastPid the last process id allocated in this pid namespace ({@code ns_last_pid})
 * @param forks the forks since boot ({@code processes} in {@code /proc/stat})
 */
record PidWindow(long lastPid, long forks) {

  /** The ids below this are never handed out again after the first cycle (the kernel's own). */
  static final long RESERVED_PIDS = 300;

  private static final Path PROC = Path.of("/proc");

  private static final long PID_MAX = readPidMax();

  /** The moment now, or null when {@code /proc} does not say. Reads the forks first. */
  static PidWindow before() {
    long forks = readForks();
    long last = readLastPid();
    return forks < 0 || last < 0 ? null : new PidWindow(last, forks);
  }

  /** The moment now, or null when {@code /proc} does not say. Reads the last id first. */
  static PidWindow after() {
    long last = readLastPid();
    long forks = readForks();
    return last < 0 || forks < 0 ? null : new PidWindow(last, forks);
  }

  /**
   * Which ids may have been allocated between {@code since} and {@code now}: null when that cannot
   * be told (either is unknown, or a whole cycle may have passed), meaning any.
   */
  static Ids allocatedBetween(PidWindow since, PidWindow now, long pidMax) {
    if (since == null || now == null || pidMax <= RESERVED_PIDS) {
      return null;
    }
    if (now.forks - since.forks >= pidMax - RESERVED_PIDS || now.forks < since.forks) {
      return null;
    }
    long from = since.lastPid;
    long to = now.lastPid;
    if (from <= to) {
      return new Ids(new long[] {from + 1}, new long[] {to});
    }
    return new Ids(new long[] {1, from + 1}, new long[] {to, pidMax}); // went round
  }

  /**
   * The ids allocated since any of these moments, up to now, with this system's {@code pid_max}:
   * null when that cannot be told for one of them (then any id may be). Each moment's own window:
   * the moments were read at different times, and the one with the fewest forks need not have read
   * the earliest last id.
   */
  static Ids allocatedSince(Collection<PidWindow> moments) {
    return allocatedSinceAny(moments, after(), PID_MAX);
  }

  /** {@link #allocatedSince} up to {@code now}, with that {@code pidMax}. */
  static Ids allocatedSinceAny(Collection<PidWindow> moments, PidWindow now, long pidMax) {
    Ids any = Ids.NONE;
    for (PidWindow since : moments) {
      Ids ids = allocatedBetween(since, now, pidMax);
      if (ids == null) {
        return null;
      }
      any = any.union(ids);
    }
    return any;
  }

  /**
   * A set of process ids as sorted, disjoint, inclusive ranges: few, so a search can tell how many
   * ids it holds and go through them rather than list every process.
   */
  static final class Ids implements LongPredicate {
    static final Ids NONE = new Ids(new long[0], new long[0]);

    private final long[] from;
    private final long[] to;

    /** The ranges {@code [from[i], to[i]]}, in any order, overlapping or empty. */
    Ids(long[] from, long[] to) {
      Integer[] order = new Integer[from.length];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      Arrays.sort(order, (a, b) -> Long.compare(from[a], from[b]));
      long[] f = new long[from.length];
      long[] t = new long[from.length];
      int n = 0;
      for (int i : order) {
        if (from[i] > to[i]) {
          continue;
        }
        if (n > 0 && from[i] <= t[n - 1] + 1) {
          t[n - 1] = Math.max(t[n - 1], to[i]);
        } else {
          f[n] = from[i];
          t[n] = to[i];
          n++;
        }
      }
      this.from = Arrays.copyOf(f, n);
      this.to = Arrays.copyOf(t, n);
    }

    Ids union(Ids other) {
      long[] f = Arrays.copyOf(from, from.length + other.from.length);
      long[] t = Arrays.copyOf(to, to.length + other.to.length);
      System.arraycopy(other.from, 0, f, from.length, other.from.length);
      System.arraycopy(other.to, 0, t, to.length, other.to.length);
      return new Ids(f, t);
    }

    @Override
    public boolean test(long pid) {
      for (int i = 0; i < from.length; i++) {
        if (pid >= from[i] && pid <= to[i]) {
          return true;
        }
      }
      return false;
    }

    /** How many ids. */
    long count() {
      long n = 0;
      for (int i = 0; i < from.length; i++) {
        n += to[i] - from[i] + 1;
      }
      return n;
    }

    /** Each id, in increasing order. */
    void forEach(LongConsumer action) {
      for (int i = 0; i < from.length; i++) {
        for (long pid = from[i]; pid <= to[i]; pid++) {
          action.accept(pid);
        }
      }
    }
  }

  private static long readLastPid() {
    return readNumber(PROC.resolve("sys/kernel/ns_last_pid"));
  }

  /**
   * The {@code processes} line of {@code /proc/stat}, read as bytes: every search reads it, and
   * decoding the whole file into lines cost more than the kernel's writing it (docs/benchmarks.md).
   */
  private static long readForks() {
    try {
      return forksIn(Files.readAllBytes(PROC.resolve("stat")));
    } catch (IOException | SecurityException e) {
      return -1; // unknown
    }
  }

  /** The number on the line of {@code /proc/stat} that starts with {@code processes }, or -1. */
  static long forksIn(byte[] stat) {
    String text = "\n" + new String(stat, StandardCharsets.US_ASCII);
    int at = text.indexOf("\nprocesses ");
    if (at < 0) {
      return -1;
    }
    int end = text.indexOf('\n', at + 1);
    try {
      return Long.parseLong(
          text.substring(at + "\nprocesses ".length(), end < 0 ? text.length() : end).trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static long readPidMax() {
    return readNumber(PROC.resolve("sys/kernel/pid_max"));
  }

  /**
   * The number a sysctl file holds, or -1. In one read: such a file answers only a read from its
   * start, so {@link Files#readString}, which reads the first byte alone (the file's size is 0) and
   * then the rest, gets the first digit only.
   */
  private static long readNumber(Path file) {
    byte[] buf = new byte[32];
    try (InputStream in = Files.newInputStream(file)) {
      int n = in.read(buf);
      return n <= 0 ? -1 : Long.parseLong(new String(buf, 0, n, StandardCharsets.US_ASCII).trim());
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
