package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.dashboard.Role;
import dev.conveyor.dashboard.UserStore;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
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

  /** {@code bin/producer publish --type noop}, then {@code more}, in the test's environment. */
  private static Programs.Apart producer(
      TestBroker broker, Map<String, String> extra, Path tmp, String... more)
      throws IOException, InterruptedException {
    Map<String, String> env = new java.util.HashMap<>(Programs.env(broker));
    env.putAll(extra);
    List<String> command =
        new java.util.ArrayList<>(
            List.of(
                ProgramProcess.repo().resolve("bin/producer").toString(),
                "publish",
                "--type",
                "noop"));
    command.addAll(List.of(more));
    return Programs.runApart(command, tmp, env, tmp);
  }

  private static List<Path> archives(Path cds) throws IOException {
    return files(cds, ".jsa");
  }

  private static List<Path> files(Path cds, String suffix) throws IOException {
    if (!Files.isDirectory(cds)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(cds)) {
      return files.filter(f -> f.getFileName().toString().endsWith(suffix)).toList();
    }
  }

  /** The JDK the launcher runs the programs on: JAVA_HOME, which bin/test sets to this JVM's. */
  private static boolean aotCapable() {
    return Runtime.version().feature() >= 25;
  }

  /** One task id and nothing else on stdout. */
  private static void assertPublished(Programs.Apart r) {
    assertThat(r.exit()).as(r.toString()).isZero();
    assertThat(r.out().lines().toList()).as(r.toString()).hasSize(1);
    assertThat(r.out().strip()).as(r.toString()).doesNotContain("cds", "[", " ");
  }

  @Test
  void theFirstRunMakesTheArchiveAndTheSecondUsesItUnchanged(TestBroker broker) throws Exception {
    Path cds = dir.resolve("cds");
    Map<String, String> env = Map.of("CONVEYOR_CDS_DIR", cds.toString(), "CONVEYOR_AOT", "0");

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

  /**
   * JDK 25 and later: the first run records, the next launch builds the cache in the background,
   * and the runs after it map the cache (the JVM's own log says so) without changing it. An older
   * JDK makes the dynamic archive instead.
   */
  @Test
  void onJdk25TheAheadOfTimeCacheIsRecordedBuiltInTheBackgroundAndUsed(TestBroker broker)
      throws Exception {
    Path cds = dir.resolve("aot");
    Map<String, String> env = Map.of("CONVEYOR_CDS_DIR", cds.toString());
    assertPublished(producer(broker, env, dir));
    if (!aotCapable()) {
      assertThat(archives(cds)).hasSize(1);
      assertThat(files(cds, ".aotconf")).isEmpty();
      return;
    }
    assertThat(archives(cds)).isEmpty();
    assertThat(files(cds, ".aotconf"))
        .singleElement()
        .satisfies(f -> assertThat(f).isNotEmptyFile());

    assertPublished(producer(broker, env, dir));
    Path cache =
        Awaitility.await("the cache built in the background")
            .atMost(Duration.ofSeconds(120))
            .until(() -> files(cds, ".aot"), made -> made.size() == 1)
            .getFirst();
    Awaitility.await("the record and the lock removed")
        .atMost(Duration.ofSeconds(30))
        .until(() -> files(cds, ".aotconf").isEmpty() && files(cds, ".aotlock").isEmpty());
    FileTime madeAt = Files.getLastModifiedTime(cache);

    Path log = dir.resolve("aot.log");
    Map<String, String> logged = new java.util.HashMap<>(env);
    logged.put(
        "CONVEYOR_JAVA_OPTS",
        Programs.env(broker).get("CONVEYOR_JAVA_OPTS") + " -Xlog:aot=info:file=" + log);
    assertPublished(producer(broker, logged, dir));
    assertThat(Files.readString(log)).contains("Opened AOT cache " + cache);
    assertThat(Files.getLastModifiedTime(cache)).isEqualTo(madeAt);
    assertThat(archives(cds)).isEmpty();
  }

  /**
   * A first run that fails (refused its flags here; an unreachable broker alike) loads little of
   * what the program runs: the launcher does not build the cache from its record but records again,
   * and builds from a run that did its work (bin/lib/common.sh, Cli.workDone).
   */
  @Test
  void aRecordOfARunThatFailedIsMadeAgainNotBuilt(TestBroker broker) throws Exception {
    Path cds = dir.resolve("failed-first");
    Programs.Apart refused =
        producer(broker, Map.of("CONVEYOR_CDS_DIR", cds.toString()), dir, "--no-such-flag");
    assertThat(refused.exit()).as(refused.toString()).isEqualTo(2);
    if (!aotCapable()) {
      assertThat(files(cds, ".aotconf")).isEmpty();
      return;
    }
    Path lock = files(cds, ".aotlock").getFirst();
    assertThat(files(cds, ".aotconf")).hasSize(1);
    assertThat(lock.resolve("trained")).doesNotExist();

    // Finds the help's record: records its own run instead, which publishes and says so.
    assertPublished(producer(broker, Map.of("CONVEYOR_CDS_DIR", cds.toString()), dir));
    assertThat(lock.resolve("building")).doesNotExist();
    assertThat(lock.resolve("trained")).exists();
    assertThat(files(cds, ".aotconf"))
        .singleElement()
        .satisfies(f -> assertThat(f).isNotEmptyFile());
    assertThat(files(cds, ".aot")).isEmpty();

    assertPublished(producer(broker, Map.of("CONVEYOR_CDS_DIR", cds.toString()), dir));
    Awaitility.await("the cache built from the run that published")
        .atMost(Duration.ofSeconds(120))
        .until(() -> files(cds, ".aot"), made -> made.size() == 1);
  }

  /**
   * The dynamic archive (JDKs before 25, or CONVEYOR_AOT=0): the JVM keeps the archive its first
   * run made, whatever that run did, and a run that failed at once loaded little of what the
   * program runs. The next launch makes it again, from a run that does its work; the one after uses
   * it unchanged.
   */
  @Test
  void aDynamicArchiveOfARunThatFailedIsMadeAgain(TestBroker broker) throws Exception {
    Path cds = dir.resolve("failed-first-jsa");
    Map<String, String> aotOff = Map.of("CONVEYOR_CDS_DIR", cds.toString(), "CONVEYOR_AOT", "0");
    Programs.Apart refused = producer(broker, aotOff, dir, "--no-such-flag");
    assertThat(refused.exit()).as(refused.toString()).isEqualTo(2);
    Path archive = archives(cds).getFirst();
    long refusedSize = Files.size(archive);
    assertThat(files(cds, ".trained")).isEmpty();

    assertPublished(producer(broker, aotOff, dir));
    assertThat(archives(cds)).containsExactly(archive);
    assertThat(Files.size(archive))
        .as("the archive of a run that published")
        .isGreaterThan(refusedSize);
    assertThat(files(cds, ".trained")).hasSize(1);
    FileTime madeAt = Files.getLastModifiedTime(archive);

    assertPublished(producer(broker, aotOff, dir));
    assertThat(Files.getLastModifiedTime(archive)).isEqualTo(madeAt);
  }

  /**
   * A worker runs until it is stopped, and a signal ends it through the JVM's shutdown, not through
   * a command's exit: it says it did its work once it consumes, so that its record is built.
   */
  @Test
  void aRecordingWorkerSaysItDidItsWorkOnceItConsumes(TestBroker broker) throws Exception {
    assertMarkedWhileServing(broker, "consuming", "worker", "--name", "recording");
  }

  /** The dashboard too runs until it is stopped: it says it did its work once it listens. */
  @Test
  void aRecordingDashboardSaysItDidItsWorkOnceItListens(TestBroker broker) throws Exception {
    Path users = dir.resolve("users");
    UserStore.add(users, "alice", Role.VIEWER, "a-long-enough-password");
    assertMarkedWhileServing(
        broker,
        "dashboard listening on",
        "dashboard",
        "--port",
        "0",
        "--users-file",
        users.toString());
  }

  /**
   * Starts {@code program} recording its first run, waits for {@code serving} in its output, and
   * checks that the run is marked as one that did its work while the program still runs.
   */
  private void assertMarkedWhileServing(
      TestBroker broker, String serving, String program, String... args) throws Exception {
    Path cds = dir.resolve(program);
    Map<String, String> env = new java.util.HashMap<>(Programs.env(broker));
    env.put("CONVEYOR_CDS_DIR", cds.toString());
    try (ProgramProcess running = broker.own(ProgramProcess.start(program, env, args))) {
      Awaitility.await(program + " serving")
          .atMost(Duration.ofSeconds(60))
          .until(() -> running.output().contains(serving));
      if (!aotCapable()) {
        assertThat(files(cds, ".aotlock")).isEmpty();
        return;
      }
      Path lock = files(cds, ".aotlock").getFirst();
      Awaitility.await("the mark of a run that did its work, while " + program + " still runs")
          .atMost(Duration.ofSeconds(10))
          .until(() -> Files.exists(lock.resolve("trained")));
      assertThat(running.process().isAlive()).isTrue();
    }
  }

  /**
   * A jar rebuilt after its archive or cache was made (newer than it) is not mapped with it: the
   * launcher names archives by the jar's path and the JVM and tells a rebuild by the files' times,
   * so the stale one is removed and made anew. A copy of the producer's jar (CONVEYOR_JAR_DIR), so
   * that the repository's own is not touched.
   */
  @Test
  void aJarNewerThanItsArchiveHasItMadeAnew(TestBroker broker) throws Exception {
    Path jars = Files.createDirectories(dir.resolve("jars"));
    Path jar = jars.resolve("producer.jar");
    Files.copy(ProgramProcess.shadedJar("producer"), jar);
    Path cds = dir.resolve("stale");
    Map<String, String> env =
        Map.of("CONVEYOR_CDS_DIR", cds.toString(), "CONVEYOR_JAR_DIR", jars.toString());
    String made = aotCapable() ? ".aot" : ".jsa";

    assertPublished(producer(broker, env, dir));
    assertPublished(producer(broker, env, dir)); // on JDK 25: builds the cache from the record
    Awaitility.await("the archive or cache made")
        .atMost(Duration.ofSeconds(120))
        .until(() -> files(cds, made).size() == 1 && files(cds, ".aotlock").isEmpty());
    Path first = files(cds, made).getFirst();
    FileTime madeAt = Files.getLastModifiedTime(first);

    // The jar "rebuilt": a time after the archive's.
    Files.setLastModifiedTime(jar, FileTime.fromMillis(madeAt.toMillis() + 2_000));
    assertPublished(producer(broker, env, dir));
    if (aotCapable()) {
      // The stale cache is gone and this run recorded anew.
      assertThat(files(cds, ".aot")).isEmpty();
      assertThat(files(cds, ".aotconf"))
          .singleElement()
          .satisfies(f -> assertThat(f).isNotEmptyFile());
    } else {
      // Made anew at this run's exit, under the same name.
      assertThat(files(cds, ".jsa")).containsExactly(first);
      assertThat(Files.getLastModifiedTime(first).toMillis())
          .isGreaterThan(madeAt.toMillis() + 2_000);
    }
  }

  /**
   * A SIGTERM to the process group of the launch that builds the cache (timeout(1), a closed
   * terminal, a service manager stopping the program) ends the build with it: the half-written
   * cache is removed and the record kept, and the next launch builds the cache from it. Without the
   * launcher's trap the half-written file stayed for good and no launch built the cache for ten
   * minutes (the lock's age limit).
   */
  @Test
  void aBuildEndedWithItsLaunchLeavesNothingHalfWrittenAndTheNextLaunchBuildsIt(TestBroker broker)
      throws Exception {
    Path cds = dir.resolve("ended");
    Map<String, String> env = Map.of("CONVEYOR_CDS_DIR", cds.toString());
    assertPublished(producer(broker, env, dir)); // records what it loads
    if (!aotCapable()) {
      assertThat(archives(cds)).hasSize(1);
      return;
    }

    // A launch that stays (it waits for an outcome no worker gives), in a process group of its
    // own; its launcher starts the build.
    ProcessBuilder pb =
        new ProcessBuilder(
                "setsid",
                ProgramProcess.repo().resolve("bin/producer").toString(),
                "publish",
                "--type",
                "noop",
                "--wait",
                "--wait-timeout",
                "120s")
            .directory(dir.toFile())
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().putAll(Programs.env(broker));
    pb.environment().putAll(env);
    Process launch = pb.start();
    try {
      ProcessHandle builder =
          Awaitility.await("the cache's builder running")
              .atMost(Duration.ofSeconds(60))
              .pollInterval(Duration.ofMillis(10))
              .until(() -> builderOf(cds), Optional::isPresent)
              .orElseThrow();
      Process kill =
          new ProcessBuilder("kill", "-TERM", "--", "-" + launch.pid()).inheritIO().start();
      assertThat(kill.waitFor()).isZero();
      assertThat(launch.waitFor(30, TimeUnit.SECONDS)).as("the launch ended").isTrue();
      Awaitility.await("the builder gone")
          .atMost(Duration.ofSeconds(30))
          .until(() -> !builder.isAlive());
    } finally {
      launch.destroyForcibly();
    }
    Awaitility.await("nothing half-written left, the record kept")
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                files(cds, ".tmp").isEmpty()
                    && files(cds, ".aotlock").stream()
                        .noneMatch(lock -> Files.exists(lock.resolve("building"))));
    assertThat(files(cds, ".aotconf").size() + files(cds, ".aot").size()).isEqualTo(1);

    assertPublished(producer(broker, env, dir)); // builds the cache from the record
    Awaitility.await("the cache built")
        .atMost(Duration.ofSeconds(120))
        .until(
            () ->
                files(cds, ".aot").size() == 1
                    && files(cds, ".aotlock").isEmpty()
                    && files(cds, ".tmp").isEmpty());
  }

  /** The JVM building a cache under {@code cds}, if one runs. */
  private static Optional<ProcessHandle> builderOf(Path cds) {
    String cache = "-XX:AOTCache=" + cds;
    return ProcessHandle.allProcesses()
        .filter(
            p ->
                p.info()
                    .arguments()
                    .map(Arrays::asList)
                    .filter(args -> args.contains("-XX:AOTMode=create"))
                    .filter(args -> args.stream().anyMatch(a -> a.startsWith(cache)))
                    .isPresent())
        .findFirst();
  }

  /**
   * bin/producer starts on the serial collector by default; the JVM refuses two collectors, so one
   * chosen in CONVEYOR_JAVA_OPTS must replace the launcher's, not be added to it.
   */
  @Test
  void aCollectorChosenInConveyorJavaOptsReplacesTheLaunchersOwn(TestBroker broker)
      throws Exception {
    assertPublished(
        producer(
            broker,
            Map.of(
                "CONVEYOR_JAVA_OPTS",
                "-Xmx256m -XX:+UseParallelGC",
                "CONVEYOR_CDS_DIR",
                dir.resolve("gc").toString()),
            dir));
  }

  @Test
  void turnedOffOrUnwritableThereIsNoArchiveAndTheProgramRunsAsUsual(TestBroker broker)
      throws Exception {
    Path off = dir.resolve("off");
    assertPublished(
        producer(broker, Map.of("CONVEYOR_CDS", "0", "CONVEYOR_CDS_DIR", off.toString()), dir));
    assertThat(files(off, "")).isEmpty();

    // Under a regular file: no directory can be made there, whoever runs the test.
    Path file = Files.writeString(dir.resolve("a-file"), "x");
    assertPublished(
        producer(broker, Map.of("CONVEYOR_CDS_DIR", file.resolve("cds").toString()), dir));
  }
}
