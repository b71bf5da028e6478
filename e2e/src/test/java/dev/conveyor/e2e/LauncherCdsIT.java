package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launchers' class-data-sharing archive: made by the first run, used unchanged by the next,
 * never a reason for output on stdout (the producer's is machine-readable) nor for a failure.
 */
@ExtendWith(BrokerExtension.class)
class LauncherCdsIT {

  @TempDir Path dir;

  private record Run(int exit, String out, String err) {}

  private static Run producer(TestBroker broker, Map<String, String> extra, Path tmp)
      throws IOException, InterruptedException {
    ProcessBuilder pb =
        new ProcessBuilder(
            ProgramProcess.repo().resolve("bin/producer").toString(), "publish", "--type", "noop");
    pb.environment().putAll(Programs.env(broker));
    pb.environment().putAll(extra);
    Path out = Files.createTempFile(tmp, "out", ".txt");
    Path err = Files.createTempFile(tmp, "err", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      throw new AssertionError("bin/producer did not exit within 120 s");
    }
    return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  private static List<Path> archives(Path cds) throws IOException {
    if (!Files.isDirectory(cds)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(cds)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".jsa")).toList();
    }
  }

  /** One task id and nothing else on stdout. */
  private static void assertPublished(Run r) {
    assertThat(r.exit()).as(r.toString()).isZero();
    assertThat(r.out().lines().toList()).as(r.toString()).hasSize(1);
    assertThat(r.out().strip()).as(r.toString()).doesNotContain("cds", "[", " ");
  }

  @Test
  void theFirstRunMakesTheArchiveAndTheSecondUsesItUnchanged(TestBroker broker) throws Exception {
    Path cds = dir.resolve("cds");
    Map<String, String> env = Map.of("CONVEYOR_CDS_DIR", cds.toString());

    assertPublished(producer(broker, env, dir));
    List<Path> made = archives(cds);
    assertThat(made).hasSize(1);
    assertThat(made.getFirst().getFileName().toString()).matches("producer-\\d+\\.jsa");
    FileTime madeAt = Files.getLastModifiedTime(made.getFirst());
    long size = Files.size(made.getFirst());

    assertPublished(producer(broker, env, dir));
    assertThat(archives(cds)).containsExactlyElementsOf(made);
    assertThat(Files.getLastModifiedTime(made.getFirst())).isEqualTo(madeAt);
    assertThat(Files.size(made.getFirst())).isEqualTo(size);
  }

  @Test
  void turnedOffOrUnwritableThereIsNoArchiveAndTheProgramRunsAsUsual(TestBroker broker)
      throws Exception {
    Path off = dir.resolve("off");
    assertPublished(
        producer(broker, Map.of("CONVEYOR_CDS", "0", "CONVEYOR_CDS_DIR", off.toString()), dir));
    assertThat(archives(off)).isEmpty();

    // Under a regular file: no directory can be made there, whoever runs the test.
    Path file = Files.writeString(dir.resolve("a-file"), "x");
    assertPublished(
        producer(broker, Map.of("CONVEYOR_CDS_DIR", file.resolve("cds").toString()), dir));
  }
}
