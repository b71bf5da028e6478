package dev.conveyor.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.worker.api.TaskRejectedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an {@code exec} task may ask for, as the operator set it at start: the programs ({@code
 * --exec-allow}), the environment variables it may set ({@code --exec-env-allow}) and the
 * directories it may run in ({@code --exec-cwd-allow}). Anything else in a payload is refused with
 * a {@link TaskRejectedException}, so the task is dead-lettered with the reason and never runs.
 *
 * <p>The environment is closed by default because it can subvert the program allow-list: {@code
 * LD_PRELOAD} or {@code LD_LIBRARY_PATH} load code of the producer's choosing into an allowed
 * program, {@code PATH} changes what a script's commands are, {@code BASH_ENV} runs a file first.
 * The working directory is closed by default because relative paths in an allowed program's
 * arguments would otherwise reach anywhere.
 */
public final class ExecPolicy {
  private static final Logger log = LoggerFactory.getLogger(ExecPolicy.class);

  private static final Pattern VARIABLE = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  private final List<Path> programList;
  private final Set<String> programs;
  private final Set<String> envNames;
  private final List<Path> cwdRoots;

  /**
   * @param programs absolute paths of the programs tasks may run
   * @param envNames variables a task's {@code env} may set
   * @param cwdRoots absolute directories a task's {@code cwd} must be in (or be)
   * @throws IllegalArgumentException for a relative path or a malformed variable name
   */
  public ExecPolicy(List<Path> programs, List<String> envNames, List<Path> cwdRoots) {
    programs.stream()
        .filter(p -> !p.isAbsolute())
        .findFirst()
        .ifPresent(
            p -> {
              throw new IllegalArgumentException("--exec-allow: not an absolute path: " + p);
            });
    envNames.stream()
        .filter(n -> !VARIABLE.matcher(n).matches())
        .findFirst()
        .ifPresent(
            n -> {
              throw new IllegalArgumentException(
                  "--exec-env-allow: not a variable name: '" + n + "'");
            });
    cwdRoots.stream()
        .filter(p -> !p.isAbsolute())
        .findFirst()
        .ifPresent(
            p -> {
              throw new IllegalArgumentException("--exec-cwd-allow: not an absolute path: " + p);
            });
    this.programList = List.copyOf(programs);
    this.programs =
        programs.stream()
            .map(p -> p.toAbsolutePath().normalize().toString())
            .collect(Collectors.toSet());
    this.envNames = Set.copyOf(envNames);
    this.cwdRoots = cwdRoots.stream().map(Path::normalize).toList();
    for (Path root : this.cwdRoots) {
      if (!Files.isDirectory(root)) {
        log.warn("--exec-cwd-allow: {} is not a directory (yet); no task can run there", root);
      }
    }
  }

  /** The programs as the operator gave them. */
  List<Path> programs() {
    return programList;
  }

  /** Programs only: no task may set its environment or working directory. */
  public static ExecPolicy programsOnly(List<Path> programs) {
    return new ExecPolicy(programs, List.of(), List.of());
  }

  /**
   * A process builder for the payload's command, environment and working directory, once each has
   * passed the policy.
   *
   * @throws TaskRejectedException naming what the policy refuses
   */
  ProcessBuilder processFor(JsonNode payload) throws TaskRejectedException {
    ProcessBuilder pb = new ProcessBuilder(command(payload));
    Path cwd = cwd(payload.get("cwd"));
    if (cwd != null) {
      pb.directory(cwd.toFile());
    }
    pb.environment().putAll(env(payload.get("env")));
    return pb;
  }

  private List<String> command(JsonNode payload) throws TaskRejectedException {
    JsonNode cmd = payload.get("command");
    if (cmd == null || !cmd.isArray() || cmd.isEmpty()) {
      throw new TaskRejectedException(
          "exec needs a payload {\"command\": [\"/path/to/program\", …]}");
    }
    List<String> out = new ArrayList<>();
    cmd.forEach(n -> out.add(n.asText()));
    String program;
    try {
      program = Path.of(out.getFirst()).toAbsolutePath().normalize().toString();
    } catch (InvalidPathException e) {
      throw new TaskRejectedException("exec: not a path: " + out.getFirst());
    }
    if (!programs.contains(program)) {
      throw new TaskRejectedException(
          "exec: " + out.getFirst() + " is not allowed (worker --exec-allow)");
    }
    return out;
  }

  private Map<String, String> env(JsonNode env) throws TaskRejectedException {
    if (env == null || env.isNull()) {
      return Map.of();
    }
    if (!env.isObject()) {
      throw new TaskRejectedException("exec: env must be an object of names and strings");
    }
    Map<String, String> out = new TreeMap<>();
    Set<String> refused = new TreeSet<>();
    for (Map.Entry<String, JsonNode> e : env.properties()) {
      if (!envNames.contains(e.getKey())) {
        refused.add(e.getKey());
        continue;
      }
      JsonNode value = e.getValue();
      if (!value.isValueNode() || value.isNull() || value.asText().indexOf('\0') >= 0) {
        throw new TaskRejectedException("exec: env " + e.getKey() + " must be a string");
      }
      out.put(e.getKey(), value.asText());
    }
    if (!refused.isEmpty()) {
      throw new TaskRejectedException(
          "exec: env "
              + String.join(", ", refused)
              + (refused.size() == 1 ? " is" : " are")
              + " not allowed (worker --exec-env-allow"
              + (envNames.isEmpty() ? " allows none)" : ")"));
    }
    return out;
  }

  /**
   * The task's directory as its real path (symbolic links resolved, {@code ..} gone), which must be
   * one of the allowed directories or inside one. The real path is also where the process is
   * started, so the directory checked is the directory used.
   */
  private Path cwd(JsonNode cwd) throws TaskRejectedException {
    if (cwd == null || cwd.isNull()) {
      return null;
    }
    if (!cwd.isTextual()) {
      throw new TaskRejectedException("exec: cwd must be a string");
    }
    String given = cwd.asText();
    if (cwdRoots.isEmpty()) {
      throw new TaskRejectedException(
          "exec: cwd " + given + " is not allowed (worker --exec-cwd-allow allows none)");
    }
    Path real;
    try {
      Path path = Path.of(given);
      if (!path.isAbsolute()) {
        throw new TaskRejectedException("exec: cwd must be an absolute path: " + given);
      }
      real = path.toRealPath();
    } catch (InvalidPathException e) {
      throw new TaskRejectedException("exec: cwd is not a path: " + given);
    } catch (NoSuchFileException e) {
      throw new TaskRejectedException("exec: cwd does not exist: " + given);
    } catch (IOException e) {
      throw new TaskRejectedException("exec: cwd cannot be resolved: " + given + " (" + e + ")");
    }
    if (!Files.isDirectory(real)) {
      throw new TaskRejectedException("exec: cwd is not a directory: " + given);
    }
    for (Path root : cwdRoots) {
      if (real.startsWith(realOrSelf(root))) {
        return real;
      }
    }
    throw new TaskRejectedException(
        "exec: cwd "
            + given
            + (given.equals(real.toString()) ? "" : " (" + real + ")")
            + " is not in an allowed directory (worker --exec-cwd-allow)");
  }

  /** Resolved for each task: a root created or re-linked after start counts as it is now. */
  private static Path realOrSelf(Path root) {
    try {
      return root.toRealPath();
    } catch (IOException e) {
      return root;
    }
  }
}
