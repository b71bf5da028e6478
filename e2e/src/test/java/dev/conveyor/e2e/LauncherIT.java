package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launchers find their repository however they are invoked: through a symlink (one on PATH), by
 * a path without a directory, or from another working directory, which they leave as it was.
 */
@ExtendWith(BrokerExtension.class)
class LauncherIT {

  @TempDir Path dir;

  private Programs.Apart run(TestBroker broker, Path cwd, List<String> command) throws Exception {
    return Programs.runApart(command, cwd, Programs.env(broker), dir);
  }

  private static void assertPublished(Programs.Apart r) {
    assertThat(r.exit()).as(r.toString()).isZero();
    assertThat(r.out().lines().toList()).as(r.toString()).hasSize(1);
  }

  @Test
  void throughASymlinkFromAnotherDirectory(TestBroker broker) throws Exception {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path link =
        Files.createSymbolicLink(
            bin.resolve("producer"), ProgramProcess.repo().resolve("bin/producer"));
    assertPublished(run(broker, dir, List.of(link.toString(), "publish", "--type", "noop")));
  }

  @Test
  void byANameWithoutADirectory(TestBroker broker) throws Exception {
    Path bin = ProgramProcess.repo().resolve("bin");
    assertPublished(run(broker, bin, List.of("bash", "producer", "publish", "--type", "noop")));
  }

  /** The program runs where it was started: a relative path given to it means the same file. */
  @Test
  void inTheWorkingDirectoryItWasStartedIn(TestBroker broker) throws Exception {
    Files.writeString(dir.resolve("payload.json"), "{\"n\":1}");
    Programs.Apart r =
        run(
            broker,
            dir,
            List.of(
                ProgramProcess.repo().resolve("bin/producer").toString(),
                "publish",
                "--type",
                "noop",
                "--payload-file",
                "payload.json"));
    assertPublished(r);
  }
}
