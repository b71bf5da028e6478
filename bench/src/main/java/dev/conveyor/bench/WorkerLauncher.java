package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Starts {@code bin/worker} (or {@code bin/producer}, {@code bin/control}: {@link #find(Path,
 * String)}) as an OS process against a benchmark's namespace, the way an operator would, with the
 * bench's own JDK (JAVA_HOME) and without building anything. With a {@code jarDir} (see {@link
 * #snapshot}) the launcher runs {@code jarDir/worker.jar} (CONVEYOR_JAR_DIR) instead of the jar in
 * worker/target.
 */
record WorkerLauncher(Path script, Path jar, Path jarDir) {

  WorkerLauncher(Path script, Path jar) {
    this(script, jar, null);
  }

  /**
   * A copy of the worker jar in a temporary directory, run through CONVEYOR_JAR_DIR: a build that
   * rewrites worker/target while the benchmark runs cannot pull classes from under a running
   * worker. {@link #deleteSnapshot} removes it.
   */
  WorkerLauncher snapshot() throws IOException {
    Path dir = Files.createTempDirectory("conveyor-bench-jar-");
    Files.copy(jar, dir.resolve("worker.jar"));
    progress("running a copy of %s (%s)", jar, Files.getLastModifiedTime(jar));
    return new WorkerLauncher(script, jar, dir);
  }

  void deleteSnapshot() {
    if (jarDir == null) {
      return;
    }
    // The jar, and the class-data-sharing archive or ahead-of-time cache (with its lock directory)
    // the launcher makes next to it.
    try (Stream<Path> files = Files.walk(jarDir)) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      progress("could not delete %s: %s", jarDir, e);
    }
  }

  /** The launcher and the already built worker jar of the repository, if both are there. */
  static Optional<WorkerLauncher> find(Path repo) throws IOException {
    return find(repo, "worker");
  }

  /** {@code bin/<program>} and its built jar, if both are there. */
  static Optional<WorkerLauncher> find(Path repo, String program) throws IOException {
    Path root = repo.toAbsolutePath().normalize();
    Path script = root.resolve("bin/" + program);
    if (!Files.isExecutable(script)) {
      return Optional.empty();
    }
    Path target = root.resolve(program + "/target");
    Path exact = target.resolve(program + "-all.jar");
    if (Files.isRegularFile(exact)) {
      return Optional.of(new WorkerLauncher(script, exact));
    }
    if (!Files.isDirectory(target)) {
      return Optional.empty();
    }
    try (Stream<Path> files = Files.list(target)) {
      return files
          .filter(f -> f.getFileName().toString().matches(program + "-.*-all\\.jar"))
          .max((a, b) -> Long.compare(a.toFile().lastModified(), b.toFile().lastModified()))
          .map(jar -> new WorkerLauncher(script, jar));
    }
  }

  /** A started worker process; {@link #stop} ends and reaps it. */
  record Running(Process process, Path log) {
    long pid() {
      return process.pid();
    }

    /** SIGTERM (graceful shutdown), then SIGKILL after 20 s; waits until it is reaped. */
    int stop() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        progress("worker process %d ignored SIGTERM for 20 s: killing it", process.pid());
        process.destroyForcibly();
        process.waitFor();
      }
      int code = process.exitValue();
      try {
        Files.deleteIfExists(log);
      } catch (IOException e) {
        progress("could not delete %s: %s", log, e);
      }
      return code;
    }

    /**
     * Ends the process if it is still alive (SIGKILL), waits until it is reaped and deletes its
     * log; for a process whose exit was already awaited. Returns its exit code.
     */
    int reap() throws InterruptedException {
      if (process.isAlive()) {
        progress("worker process %d still alive: killing it", process.pid());
        process.destroyForcibly();
      }
      process.waitFor();
      try {
        Files.deleteIfExists(log);
      } catch (IOException e) {
        progress("could not delete %s: %s", log, e);
      }
      return process.exitValue();
    }

    /**
     * Waits for the process to end by itself, then {@link #reap}s it; -1 if it had to be killed.
     */
    int awaitExit(long seconds) throws InterruptedException {
      boolean ended = process.waitFor(seconds, TimeUnit.SECONDS);
      int code = reap();
      return ended ? code : -1;
    }

    String logTail() {
      try {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
      } catch (IOException e) {
        return "(no log: " + e + ")";
      }
    }
  }

  Running start(Harness h, String... args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(script.toString());
    command.addAll(List.of(args));
    Path log = Files.createTempFile("conveyor-bench-worker-", ".log");
    ProcessBuilder pb = new ProcessBuilder(command);
    Map<String, String> env = pb.environment();
    env.put("CONVEYOR_URI", h.settings().uris().getFirst().toString());
    env.put("CONVEYOR_NAMESPACE", h.names().namespace());
    env.put("CONVEYOR_NO_BUILD", "1");
    env.put("JAVA_HOME", System.getProperty("java.home"));
    env.remove("CONVEYOR_CONTROL_KEY");
    env.remove("CONVEYOR_JAVA_OPTS");
    env.remove("CONVEYOR_JAR_DIR");
    if (jarDir != null) {
      env.put("CONVEYOR_JAR_DIR", jarDir.toString());
      // A fresh copy has no ahead-of-time cache yet: its first runs would record it and build it
      // in the background, beside what the benchmark measures. Snapshots measure steady work, not
      // start-up: they keep the dynamic archive.
      env.put("CONVEYOR_AOT", "0");
    }
    pb.redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Process p = pb.start();
    progress(
        "started %s %s as pid %d (output in %s)", script, String.join(" ", args), p.pid(), log);
    return new Running(p, log);
  }
}
