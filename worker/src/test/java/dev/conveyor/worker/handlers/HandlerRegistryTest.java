package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conveyor.testkit.LogCapture;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the worker says at start about its {@code --handlers} jars, and that it lets go of them. */
class HandlerRegistryTest {

  @TempDir Path dir;

  @Test
  void aCorruptJarIsNamedInAWarningAndTheRestLoads() throws Exception {
    Path jars = Files.createDirectories(dir.resolve("handlers"));
    Path corrupt = Files.write(jars.resolve("broken.jar"), "not a zip".getBytes());
    jar(jars.resolve("good.jar"), Map.of("readme.txt", "hello"));

    try (LogCapture log = LogCapture.of(HandlerRegistry.class);
        HandlerRegistry registry = HandlerRegistry.load(List.of(), Optional.of(jars))) {

      assertThat(log.warnings())
          .singleElement()
          .asString()
          .startsWith("WARN --handlers: skipping " + corrupt + ": not a readable jar (");
      assertThat(registry.userJars().getResource("readme.txt")).isNotNull();
      assertThat(registry.types()).contains("exec", "noop", "sleep", "spin", "fail");
    }
  }

  @Test
  void aDirectoryWithoutJarsIsNamedInAWarning() {
    try (LogCapture log = LogCapture.of(HandlerRegistry.class);
        HandlerRegistry registry = HandlerRegistry.load(List.of(), Optional.of(dir))) {

      assertThat(log.warnings())
          .containsExactly(
              "WARN --handlers: no readable jar in "
                  + dir
                  + "; only the built-in task types are available");
    }
  }

  @Test
  void aListedHandlerClassThatIsMissingIsAUsageErrorNamingIt() throws Exception {
    Path jars = Files.createDirectories(dir.resolve("handlers"));
    jar(
        jars.resolve("missing.jar"),
        Map.of("META-INF/services/dev.conveyor.worker.api.TaskHandler", "example.Missing\n"));

    assertThatThrownBy(() -> HandlerRegistry.load(List.of(), Optional.of(jars)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("--handlers: ")
        .hasMessageContaining("example.Missing");
  }

  /** The class loader holds every jar open; the worker that closes its registry lets go. */
  @Test
  void closingTheRegistryClosesTheJars() throws Exception {
    Path jars = Files.createDirectories(dir.resolve("handlers"));
    Path jar = jar(jars.resolve("data.jar"), Map.of("readme.txt", "hello"));
    HandlerRegistry registry = HandlerRegistry.load(List.of(), Optional.of(jars));
    URLClassLoader loader = registry.userJars();
    assertThat(loader.getResource("readme.txt")).isNotNull();
    if (Files.isDirectory(Path.of("/proc/self/fd"))) {
      assertThat(openFiles()).contains(jar.toRealPath());
    }

    registry.close();

    assertThat(loader.getResource("readme.txt")).isNull();
    if (Files.isDirectory(Path.of("/proc/self/fd"))) {
      assertThat(openFiles()).doesNotContain(jar.toRealPath());
    }
  }

  @Test
  void aMissingOrNonExecutableExecAllowProgramIsNamedInAWarning() throws Exception {
    Path notExecutable = Files.writeString(dir.resolve("script.sh"), "echo hi\n");
    assumeTrue(!Files.isExecutable(notExecutable), "the file must not be executable for us");
    Path missing = dir.resolve("no-such-tool");

    try (LogCapture log = LogCapture.of(ExecHandler.class);
        ExecHandler exec =
            new ExecHandler(List.of(Path.of("/bin/sh"), missing, notExecutable, dir))) {

      assertThat(log.warnings())
          .containsExactly(
              "WARN --exec-allow: "
                  + missing
                  + " does not exist; exec tasks that name it will fail",
              "WARN --exec-allow: "
                  + notExecutable
                  + " is not an executable file; exec tasks that name it will fail",
              "WARN --exec-allow: "
                  + dir
                  + " is not an executable file; exec tasks that name it will fail");
    }
  }

  private static Path jar(Path file, Map<String, String> entries) throws IOException {
    try (OutputStream out = Files.newOutputStream(file);
        JarOutputStream jar = new JarOutputStream(out)) {
      for (Map.Entry<String, String> e : entries.entrySet()) {
        jar.putNextEntry(new JarEntry(e.getKey()));
        jar.write(e.getValue().getBytes(StandardCharsets.UTF_8));
      }
    }
    return file;
  }

  private static List<Path> openFiles() throws IOException {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.flatMap(
              fd -> {
                try {
                  return Stream.of(Files.readSymbolicLink(fd));
                } catch (IOException e) {
                  return Stream.empty(); // closed meanwhile
                }
              })
          .toList();
    }
  }
}
