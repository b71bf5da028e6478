package dev.conveyor.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The CPU time this JVM and the broker spent during a measurement. On a 2-CPU host where the broker
 * and the consumer share the CPUs, a drain's rate follows the CPU both spend per task: these say
 * which side a gap between two consumers comes from. NaN where unknown (not Linux, or the broker's
 * process is not readable).
 *
 * @param jvmSeconds this JVM's CPU time (the consumer or publisher measured, and the bench's own
 *     event reader) and that of the child processes it reaped meanwhile (bin/producer)
 * @param brokerSeconds the CPU time of the process listening on the broker's port
 */
record CpuUse(double jvmSeconds, double brokerSeconds) {

  /** Linux's USER_HZ, the unit of /proc/PID/stat's times, on every architecture we run on. */
  private static final double TICKS_PER_SECOND = 100.0;

  /** Where a measurement began. */
  record Meter(double jvm, double broker, OptionalLong brokerPid) {
    CpuUse end() {
      return new CpuUse(jvmCpuSeconds() - jvm, brokerCpuSeconds(brokerPid) - broker);
    }
  }

  /** A start sample of this JVM and of the broker's process. */
  static Meter start(OptionalLong brokerPid) {
    return new Meter(jvmCpuSeconds(), brokerCpuSeconds(brokerPid), brokerPid);
  }

  /** Microseconds of CPU per task, of this JVM and of the broker. */
  record PerTask(double jvmMicros, double brokerMicros) {
    @Override
    public String toString() {
      return String.format(
          Locale.ROOT, "cpu/task jvm %.1f µs, broker %.1f µs", jvmMicros, brokerMicros);
    }
  }

  PerTask perTask(long tasks) {
    return new PerTask(1e6 * jvmSeconds / tasks, 1e6 * brokerSeconds / tasks);
  }

  /** This JVM's CPU time, and that of the child processes it has reaped (bin/producer). */
  private static double jvmCpuSeconds() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      long ns = os.getProcessCpuTime();
      return ns < 0 ? Double.NaN : ns / 1e9 + reapedChildrenSeconds();
    }
    return Double.NaN;
  }

  private static double reapedChildrenSeconds() {
    try {
      String[] f = statFields("self");
      return (Long.parseLong(f[13]) + Long.parseLong(f[14])) / TICKS_PER_SECOND; // cutime, cstime
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /**
   * The fields of /proc/PID/stat from the state on (index 11 is utime): split after the command,
   * which may hold spaces.
   */
  private static String[] statFields(String pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
  }

  private static double brokerCpuSeconds(OptionalLong pid) {
    if (pid.isEmpty()) {
      return Double.NaN;
    }
    try {
      String[] f = statFields(Long.toString(pid.getAsLong()));
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND; // utime, stime
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /**
   * The process listening on a TCP port of this host: the owner of the listening socket's inode
   * (/proc/net/tcp*, then each process's descriptors). Empty if none is found or readable.
   */
  static OptionalLong listenerOf(int port) {
    Set<String> inodes = new HashSet<>();
    String hexPort = String.format(Locale.ROOT, ":%04X", port);
    for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      try {
        for (String line : Files.readAllLines(Path.of(table))) {
          String[] f = line.trim().split("\\s+");
          // sl local_address rem_address st ... inode(9); st 0A = LISTEN
          if (f.length > 9 && f[1].endsWith(hexPort) && f[3].equals("0A")) {
            inodes.add("socket:[" + f[9] + "]");
          }
        }
      } catch (IOException | RuntimeException e) {
        // no such table: try the other
      }
    }
    if (inodes.isEmpty()) {
      return OptionalLong.empty();
    }
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      return procs
          .filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
          .filter(p -> ownsAny(p, inodes))
          .mapToLong(p -> Long.parseLong(p.getFileName().toString()))
          .findFirst();
    } catch (IOException | RuntimeException e) {
      return OptionalLong.empty();
    }
  }

  private static boolean ownsAny(Path proc, Set<String> inodes) {
    try (Stream<Path> fds = Files.list(proc.resolve("fd"))) {
      return fds.anyMatch(
          fd -> {
            try {
              return inodes.contains(Files.readSymbolicLink(fd).toString());
            } catch (IOException | RuntimeException e) {
              return false;
            }
          });
    } catch (IOException | RuntimeException e) {
      return false; // gone, or not ours to read
    }
  }
}
