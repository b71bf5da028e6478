package dev.conveyor.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostNameTest {

  @TempDir Path dir;

  /** The kernel's name is the one the resolver was asked for: the same as before, cheaper. */
  @Test
  void theKernelsNameIsTheResolversName() throws Exception {
    assertThat(HostName.get())
        .isEqualTo(InetAddress.getLocalHost().getHostName())
        .isEqualTo(Files.readString(Path.of("/proc/sys/kernel/hostname")).strip());
  }

  @Test
  void whatTheKernelFileSaysIsTheName() throws Exception {
    Path kernel = Files.writeString(dir.resolve("hostname"), "node-7\n");

    assertThat(HostName.of(kernel, Map.of("HOSTNAME", "other"))).isEqualTo("node-7");
  }

  /** Without /proc (not Linux) or with an empty name there, the name is resolved as before. */
  @Test
  void withoutTheKernelFileTheNameIsResolved() throws Exception {
    String resolved = InetAddress.getLocalHost().getHostName();

    assertThat(HostName.of(dir.resolve("missing"), Map.of())).isEqualTo(resolved);
    assertThat(HostName.of(Files.writeString(dir.resolve("empty"), "\n"), Map.of()))
        .isEqualTo(resolved);
  }
}
