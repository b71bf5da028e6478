package dev.conveyor.e2e;

import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The three programs, started through their launchers against a test's namespace. */
final class Programs {
  private Programs() {}

  static Map<String, String> env(TestBroker broker) {
    Map<String, String> env = new HashMap<>(broker.env());
    env.put("CONVEYOR_NO_BUILD", "1");
    env.put("CONVEYOR_JAVA_OPTS", "-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
    return env;
  }

  /** A worker with short graces, unless the test sets its own. */
  static ProgramProcess worker(TestBroker broker, String name, String... args) {
    return worker(broker, Map.of(), name, args);
  }

  /** The same, with these environment variables added to the test's. */
  static ProgramProcess worker(
      TestBroker broker, Map<String, String> moreEnv, String name, String... args) {
    Map<String, String> env = env(broker);
    env.putAll(moreEnv);
    List<String> all = new ArrayList<>(List.of("--name", name));
    List<String> given = List.of(args);
    if (!given.contains("--shutdown-grace")) {
      all.addAll(List.of("--shutdown-grace", "5s"));
    }
    if (!given.contains("--kill-grace")) {
      all.addAll(List.of("--kill-grace", "1s"));
    }
    all.addAll(given);
    return broker.own(ProgramProcess.start("worker", env, all));
  }

  /** Runs a program to its end and returns its exit code and output. */
  static Result run(TestBroker broker, String program, String... args) {
    try (ProgramProcess p = ProgramProcess.start(program, env(broker), args)) {
      int code = p.waitFor(Duration.ofSeconds(120));
      return new Result(code, p.output());
    }
  }

  /** What a command wrote on stdout and on stderr, kept apart, and its exit code. */
  record Apart(int exit, String out, String err) {}

  /**
   * Runs a command to its end (120 s at most) in {@code cwd} with {@code env} added (a null value
   * unsets the variable), its stdout and stderr in files under {@code tmp}: for a launcher whose
   * stdout must hold nothing else.
   */
  static Apart runApart(List<String> command, Path cwd, Map<String, String> env, Path tmp)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).directory(cwd.toFile());
    env.forEach(
        (name, value) -> {
          if (value == null) {
            pb.environment().remove(name);
          } else {
            pb.environment().put(name, value);
          }
        });
    Path out = Files.createTempFile(tmp, "out", ".txt");
    Path err = Files.createTempFile(tmp, "err", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      throw new AssertionError(command + " did not exit within 120 s");
    }
    return new Apart(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  record Result(int exitCode, String output) {
    List<String> lines() {
      return output.lines().filter(l -> !l.isBlank()).toList();
    }
  }
}
