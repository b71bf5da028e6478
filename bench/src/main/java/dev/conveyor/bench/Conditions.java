package dev.conveyor.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the machine was doing while a figure was measured: the 1-minute load average at its end, and
 * from the CPU counters of /proc/stat over the measurement the share of CPU time the hypervisor
 * gave to someone else (steal) and the share spent busy. A figure taken under steal or under
 * another load is not comparable with one taken on a quiet machine; every figure carries these.
 */
record Conditions(String load, double stealPercent, double busyPercent) {

  /** A start sample; {@link #end} gives the conditions since. */
  record Meter(long[] start) {
    Conditions end() {
      long[] now = cpuTicks();
      long total = now[0] - start[0];
      double steal = total <= 0 ? Double.NaN : 100.0 * (now[1] - start[1]) / total;
      double busy = total <= 0 ? Double.NaN : 100.0 * (now[2] - start[2]) / total;
      return new Conditions(Report.Machine.loadAverage().split(" ")[0], steal, busy);
    }
  }

  static Meter start() {
    return new Meter(cpuTicks());
  }

  /** Total, steal and busy (neither idle, iowait nor steal) ticks of all CPUs; zeros off Linux. */
  private static long[] cpuTicks() {
    try {
      // cpu  user nice system idle iowait irq softirq steal guest guest_nice
      String[] f = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
      long total = 0;
      for (int i = 1; i <= 8 && i < f.length; i++) {
        total += Long.parseLong(f[i]);
      }
      long steal = f.length > 8 ? Long.parseLong(f[8]) : 0;
      long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
      return new long[] {total, steal, total - idle - steal};
    } catch (IOException | RuntimeException e) {
      return new long[] {0, 0, 0};
    }
  }

  @Override
  public String toString() {
    return String.format("[load %s, steal %.1f%%, cpu %.0f%%]", load, stealPercent, busyPercent);
  }

  Map<String, Object> json() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("load1", load);
    m.put("stealPercent", Stats.round1(stealPercent));
    m.put("busyPercent", Stats.round1(busyPercent));
    return m;
  }
}
