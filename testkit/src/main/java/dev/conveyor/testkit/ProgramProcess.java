package dev.conveyor.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One of the programs ({@code bin/worker}, {@code bin/producer}, {@code bin/control}) run as an OS
 * process, the way users run it. Output goes to a file so that nothing blocks on a full pipe;
 * {@link #close()} kills and reaps it.
 */
public final class ProgramProcess implements AutoCloseable {

  /** Not yet closed: killed if the test JVM ends first (a killed or timed-out test run). */
  private static final Set<ProgramProcess> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> LIVE.forEach(ProgramProcess::kill), "conveyor-program-processes-kill"));
  }

  private final Process process;
  private final Path output;
  private final String name;

  private ProgramProcess(String name, Process process, Path output) {
    this.name = name;
    this.process = process;
    this.output = output;
  }

  /** The repository root: where {@code bin/} lives. */
  public static Path repo() {
    String prop = System.getProperty("conveyor.repo");
    Path p = prop != null ? Path.of(prop) : Path.of("").toAbsolutePath();
    while (p != null && !Files.isRegularFile(p.resolve("bin/worker"))) {
      p = p.getParent();
    }
    if (p == null) {
      throw new IllegalStateException("cannot find the repository root (bin/worker)");
    }
    return p;
  }

  /**
   * The shaded jar Maven's package phase built for {@code program} ({@code control}, {@code
   * producer}, …), {@code <program>/target/<program>-all.jar}: the jar the launchers run.
   */
  public static Path shadedJar(String program) {
    Path jar = repo().resolve(program).resolve("target").resolve(program + "-all.jar");
    if (!Files.isRegularFile(jar)) {
      throw new AssertionError("no shaded jar " + jar + ": run mvn package first");
    }
    return jar;
  }

  public static ProgramProcess start(String program, Map<String, String> env, String... args) {
    return start(program, env, List.of(args));
  }

  public static ProgramProcess start(String program, Map<String, String> env, List<String> args) {
    return start(repo().resolve("bin").resolve(program), env, args);
  }

  /** The same, through the launcher at {@code launcher}: one of another checkout's. */
  public static ProgramProcess start(Path launcher, Map<String, String> env, List<String> args) {
    String program = launcher.getFileName().toString();
    try {
      Path out = Files.createTempFile("conveyor-" + program + "-", ".log");
      List<String> cmd = new ArrayList<>();
      cmd.add(launcher.toString());
      cmd.addAll(args);
      ProcessBuilder pb =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
      pb.environment().putAll(env);
      ProgramProcess started = new ProgramProcess(program, pb.start(), out);
      LIVE.add(started);
      return started;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Process process() {
    return process;
  }

  public long pid() {
    return process.pid();
  }

  public String output() {
    try {
      return Files.readString(output, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits for the exit code; fails the test with the program's output if it does not exit. */
  public int waitFor(Duration timeout) {
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(
            name + " did not exit within " + timeout + "; output:\n" + output());
      }
      return process.exitValue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** SIGTERM. */
  public void terminate() {
    process.destroy();
  }

  private void kill() {
    if (process.isAlive()) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
    }
  }

  @Override
  public void close() {
    LIVE.remove(this);
    kill();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      Files.deleteIfExists(output);
    } catch (IOException ignored) {
      // temp file
    }
  }

  @Override
  public String toString() {
    return name + "[" + process.pid() + "]";
  }
}
