package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rebuilding a checkout does not break the programs running from it. The launchers run {@code
 * <program>/target/<program>-all.jar}; the build writes the new jar beside it and renames it over
 * the old one, so a running JVM keeps reading the file it opened. (The shade plugin alone rewrote
 * the jar in place: the running worker's next class to load failed, it lost its task, and it
 * ignored SIGTERM.)
 *
 * <p>The test builds a copy of the checkout with Maven, offline, from the local repository the
 * outer build filled, so it builds exactly this checkout's POMs.
 */
@ExtendWith(BrokerExtension.class)
class RebuildIT {

  @TempDir Path dir;

  @Test
  void aWorkerRunningFromTheCheckoutOutlivesARebuildOfIt(TestBroker broker) throws Exception {
    Path copy = copyOfCheckout(dir.resolve("checkout"));
    build(copy);
    Path jar = copy.resolve("worker/target/worker-all.jar");
    Object before = Files.getAttribute(jar, "unix:ino");

    Map<String, String> env = Programs.env(broker);
    // Without a class-data archive every class the worker loads later is read from the jar, the
    // file the rebuild replaces.
    env.put("CONVEYOR_CDS", "0");
    ProgramProcess worker =
        broker.own(
            ProgramProcess.start(
                copy.resolve("bin/worker"),
                env,
                List.of("--name", "w1", "--exec-allow", "/bin/true", "--shutdown-grace", "5s")));
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> worker.output().contains("consuming"));

    // A class more moves every entry after it in the rebuilt jar.
    Files.writeString(
        copy.resolve("worker/src/main/java/dev/conveyor/worker/RebuildMarker.java"),
        "package dev.conveyor.worker;\n\nfinal class RebuildMarker {}\n");
    build(copy);
    assertThat(Files.getAttribute(jar, "unix:ino")).as("a new file").isNotEqualTo(before);

    // The exec task, its process and the shutdown load classes the worker had not loaded yet.
    Programs.Result task =
        Programs.run(
            broker,
            "producer",
            "publish",
            "--type",
            "exec",
            "--payload",
            "{\"command\":[\"/bin/true\"]}",
            "--wait",
            "--wait-timeout",
            "30s");
    assertThat(task.exitCode()).as(task.output()).isZero();
    assertThat(task.output()).contains("succeeded");

    worker.terminate();
    assertThat(worker.waitFor(Duration.ofSeconds(30))).as(worker.output()).isZero();
    assertThat(worker.output()).doesNotContain("NoClassDefFoundError", "ClassNotFoundException");
  }

  /** The checkout's files, without what builds and version control left in it. */
  private static Path copyOfCheckout(Path to) throws IOException {
    Path from = ProgramProcess.repo();
    Set<String> skipped = Set.of("target", ".git", "node_modules");
    Files.walkFileTree(
        from,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs)
              throws IOException {
            if (!d.equals(from) && skipped.contains(d.getFileName().toString())) {
              return FileVisitResult.SKIP_SUBTREE;
            }
            Files.createDirectories(to.resolve(from.relativize(d)));
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) throws IOException {
            if (attrs.isRegularFile()) {
              Files.copy(
                  f,
                  to.resolve(from.relativize(f)),
                  java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
            }
            return FileVisitResult.CONTINUE;
          }
        });
    return to;
  }

  /** {@code mvn package} of the worker and what it needs, offline, with this test's JDK. */
  private void build(Path checkout) throws Exception {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "mvn",
                "-B",
                "-ntp",
                "-o",
                "-q",
                "-Dmaven.test.skip=true",
                "package",
                "-pl",
                "worker",
                "-am"));
    String repository = System.getProperty("conveyor.maven.repo.local");
    if (repository != null && !repository.isBlank()) {
      cmd.add("-Dmaven.repo.local=" + repository);
    }
    Path log = Files.createTempFile(dir, "mvn", ".log");
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .directory(checkout.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.environment().remove("MAVEN_PROJECTBASEDIR");
    Process mvn = pb.start();
    try {
      assertThat(mvn.waitFor(5, TimeUnit.MINUTES)).as("mvn package within 5 min").isTrue();
    } finally {
      mvn.descendants().forEach(ProcessHandle::destroyForcibly);
      mvn.destroyForcibly().waitFor();
    }
    assertThat(mvn.exitValue()).as(String.join(" ", cmd) + ":\n" + Files.readString(log)).isZero();
  }
}
