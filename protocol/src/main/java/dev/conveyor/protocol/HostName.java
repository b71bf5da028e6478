package dev.conveyor.protocol;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * This machine's name, as {@code gethostname(2)} gives it: in a worker's default name, its status
 * and a command's issuer.
 *
 * <p>On Linux it is read from the kernel ({@code /proc/sys/kernel/hostname}). {@link
 * InetAddress#getLocalHost()} returns the same name but resolves it first, a cost on the start path
 * of every program (docs/benchmarks.md); it is only the fallback, then the {@code HOSTNAME}
 * variable.
 */
public final class HostName {
  private HostName() {}

  private static final Path KERNEL = Path.of("/proc/sys/kernel/hostname");

  /** Read once: a program keeps the name it started with. */
  private static final class Holder {
    static final String NAME = of(KERNEL, System.getenv());
  }

  public static String get() {
    return Holder.NAME;
  }

  /**
   * @param kernel where the kernel tells its host name; if it cannot be read, the name is resolved
   */
  static String of(Path kernel, Map<String, String> env) {
    try {
      String name = Files.readString(kernel).strip();
      if (!name.isEmpty()) {
        return name;
      }
    } catch (IOException | RuntimeException e) {
      // not Linux, or no /proc: resolved below
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      String fromEnv = env.get("HOSTNAME");
      return fromEnv == null || fromEnv.isBlank() ? "unknown-host" : fromEnv.strip();
    }
  }
}
