package dev.conveyor.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Memory and thread figures of a process, from {@code /proc/<pid>/status} (Linux). */
record ProcStatus(long rssKiB, long hwmKiB, int threads) {

  static ProcStatus read(long pid) throws IOException {
    long rss = -1;
    long hwm = -1;
    int threads = -1;
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        rss = kib(line);
      } else if (line.startsWith("VmHWM:")) {
        hwm = kib(line);
      } else if (line.startsWith("Threads:")) {
        threads = Integer.parseInt(line.substring("Threads:".length()).trim());
      }
    }
    return new ProcStatus(rss, hwm, threads);
  }

  private static long kib(String line) {
    // "VmRSS:	  123456 kB"
    String[] parts = line.trim().split("\\s+");
    return Long.parseLong(parts[1]);
  }

  double rssMiB() {
    return rssKiB / 1024.0;
  }

  double hwmMiB() {
    return hwmKiB / 1024.0;
  }

  @Override
  public String toString() {
    return String.format("VmRSS %.1f MiB, VmHWM %.1f MiB, %d threads", rssMiB(), hwmMiB(), threads);
  }
}
