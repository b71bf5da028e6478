package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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

  /**
   * Without JAVA_HOME the launcher takes the first {@code java} on PATH that is new enough, here a
   * symlink to this JVM's (found by searching PATH in bash and following the link). The other
   * places it looks hold nothing (CONVEYOR_JAVA_DIRS), and the next {@code java} on PATH is older
   * on this machine's image or absent: only that first one can start the program.
   */
  @Test
  void withoutJavaHomeTheJavaOnPathThroughASymlink(TestBroker broker) throws Exception {
    Path bin = Files.createDirectories(dir.resolve("jdk-link/bin"));
    Files.createSymbolicLink(
        bin.resolve("java"), Path.of(System.getProperty("java.home"), "bin", "java"));
    Path none = Files.createDirectories(dir.resolve("no-jdks"));
    Map<String, String> env = new HashMap<>(Programs.env(broker));
    env.put("JAVA_HOME", null);
    // Relative, as PATH entries may be: the launcher runs in the directory it was started in.
    env.put("PATH", "jdk-link/bin:/usr/local/bin:/usr/bin:/bin");
    env.put("CONVEYOR_JAVA_DIRS", none.toString());
    assertPublished(
        Programs.runApart(
            List.of(
                ProgramProcess.repo().resolve("bin/producer").toString(),
                "publish",
                "--type",
                "noop"),
            dir,
            env,
            dir));
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

  /**
   * Every program reflects through native accessors (the JVM's method-handle ones spin classes in
   * every start), and a value given in CONVEYOR_JAVA_OPTS still wins.
   */
  @Test
  void everyProgramReflectsNativelyUnlessTheOperatorSaysOtherwise(TestBroker broker)
      throws Exception {
    String property = "jdk.reflect.useNativeAccessorOnly = ";
    for (String program : List.of("worker", "control", "producer", "dashboard")) {
      Map<String, String> env = new HashMap<>(Programs.env(broker));
      env.put("CONVEYOR_JAVA_OPTS", "-Xmx256m -XshowSettings:properties");
      Programs.Apart r = launch(program, env);
      assertThat(r.exit()).as(r.toString()).isZero();
      assertThat(r.err())
          .as(program)
          .contains(property + "true")
          .doesNotContain(property + "false");

      env.put(
          "CONVEYOR_JAVA_OPTS",
          "-Xmx256m -XshowSettings:properties -Djdk.reflect.useNativeAccessorOnly=false");
      r = launch(program, env);
      assertThat(r.exit()).as(r.toString()).isZero();
      assertThat(r.err())
          .as(program)
          .contains(property + "false")
          .doesNotContain(property + "true");
    }
  }

  private Programs.Apart launch(String program, Map<String, String> env) throws Exception {
    return Programs.runApart(
        List.of(ProgramProcess.repo().resolve("bin/" + program).toString(), "--help"),
        dir,
        env,
        dir);
  }
}
