package dev.conveyor.worker.handlers;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
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
  static LongPredicate allocatedBetween(PidWindow since, PidWindow now, long pidMax) {
    if (since == null || now == null || pidMax <= RESERVED_PIDS) {
      return null;
    }
    if (now.forks - since.forks >= pidMax - RESERVED_PIDS || now.forks < since.forks) {
      return null;
    }
    long from = since.lastPid;
    long to = now.lastPid;
    if (from <= to) {
      return pid -> pid > from && pid <= to;
    }
    return pid -> pid > from || pid <= to; // went round
  }

  /**
   * The ids allocated since any of these moments, up to now, with this system's {@code pid_max}:
   * null when that cannot be told for one of them (then any id may be). Each moment's own window:
   * the moments were read at different times, and the one with the fewest forks need not have read
   * the earliest last id.
   */
  static LongPredicate allocatedSince(Collection<PidWindow> moments) {
    return allocatedSinceAny(moments, after(), PID_MAX);
  }

  /** {@link #allocatedSince} up to {@code now}, with that {@code pidMax}. */
  static LongPredicate allocatedSinceAny(
      Collection<PidWindow> moments, PidWindow now, long pidMax) {
    LongPredicate any = pid -> false;
    for (PidWindow since : moments) {
      LongPredicate ids = allocatedBetween(since, now, pidMax);
      if (ids == null) {
        return null;
      }
      any = any.or(ids);
    }
    return any;
  }

  private static long readLastPid() {
    return readNumber(PROC.resolve("sys/kernel/ns_last_pid"));
  }

  private static long readForks() {
    try {
      for (String line : Files.readAllLines(PROC.resolve("stat"))) {
        if (line.startsWith("processes ")) {
          return Long.parseLong(line.substring("processes ".length()).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      // unknown
    }
    return -1;
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
