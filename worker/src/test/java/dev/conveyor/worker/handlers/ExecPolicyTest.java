package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conveyor.worker.api.TaskRejectedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A producer may name an allowed program, but not change what it loads (its environment) or where
 * its relative paths lead (its working directory) beyond what the operator allowed.
 */
class ExecPolicyTest {

  private static final List<Path> SH = List.of(Path.of("/bin/sh"));

  @TempDir Path dir;

  @Test
  void byDefaultATaskMaySetNoVariable() {
    ExecPolicy policy = ExecPolicy.programsOnly(SH);

    assertThatThrownBy(() -> run(policy, "{\"LD_PRELOAD\":\"/tmp/evil.so\"}", null))
        .isInstanceOf(TaskRejectedException.class)
        .hasMessage("exec: env LD_PRELOAD is not allowed (worker --exec-env-allow allows none)");
  }

  @Test
  void aVariableOutsideTheAllowListIsRejectedEvenNextToAllowedOnes() {
    ExecPolicy policy = new ExecPolicy(SH, List.of("GREETING"), List.of());

    assertThatThrownBy(
            () ->
                run(
                    policy,
                    "{\"GREETING\":\"hi\",\"PATH\":\"/tmp\",\"LD_LIBRARY_PATH\":\"/tmp\"}",
                    null))
        .isInstanceOf(TaskRejectedException.class)
        .hasMessage("exec: env LD_LIBRARY_PATH, PATH are not allowed (worker --exec-env-allow)");
  }

  @Test
  void anAllowedVariableReachesTheProcess() throws Exception {
    try (ExecHandler exec = new ExecHandler(new ExecPolicy(SH, List.of("GREETING"), List.of()))) {
      Object result =
          exec.handle(
              ExecContext.of(
                  """
                  {"command":["/bin/sh","-c","echo $GREETING"],"env":{"GREETING":"hello"}}"""));

      assertThat(((Map<?, ?>) result).get("output")).isEqualTo("hello\n");
    }
  }

  @Test
  void envMustBeAnObjectOfStrings() {
    ExecPolicy policy = new ExecPolicy(SH, List.of("A"), List.of());

    assertThatThrownBy(() -> run(policy, "[\"A=1\"]", null))
        .hasMessage("exec: env must be an object of names and strings");
    assertThatThrownBy(() -> run(policy, "{\"A\":{\"b\":1}}", null))
        .hasMessage("exec: env A must be a string");
  }

  @Test
  void anAllowListEntryThatIsNoVariableNameIsRefusedAtStart() {
    assertThatThrownBy(() -> new ExecPolicy(SH, List.of("GOOD", "BAD=1"), List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--exec-env-allow: not a variable name: 'BAD=1'");
  }

  @Test
  void byDefaultATaskMayNotChooseItsDirectory() {
    ExecPolicy policy = ExecPolicy.programsOnly(SH);

    assertThatThrownBy(() -> run(policy, null, "\"" + dir + "\""))
        .isInstanceOf(TaskRejectedException.class)
        .hasMessage("exec: cwd " + dir + " is not allowed (worker --exec-cwd-allow allows none)");
  }

  @Test
  void aDirectoryInsideAnAllowedRootIsUsed() throws Exception {
    Path root = Files.createDirectories(dir.resolve("jobs"));
    Path inside = Files.createDirectories(root.resolve("a/b"));
    try (ExecHandler exec = new ExecHandler(new ExecPolicy(SH, List.of(), List.of(root)))) {
      Object result =
          exec.handle(
              ExecContext.of(
                  "{\"command\":[\"/bin/sh\",\"-c\",\"pwd -P\"],\"cwd\":\"" + inside + "\"}"));

      assertThat(((Map<?, ?>) result).get("output")).isEqualTo(inside.toRealPath() + "\n");
    }
    assertThat(run(new ExecPolicy(SH, List.of(), List.of(root)), null, "\"" + root + "\""))
        .isEqualTo(root.toRealPath());
  }

  @Test
  void dotDotCannotClimbOutOfAnAllowedRoot() throws Exception {
    Path root = Files.createDirectories(dir.resolve("jobs"));
    Files.createDirectories(dir.resolve("secrets"));
    ExecPolicy policy = new ExecPolicy(SH, List.of(), List.of(root));

    assertThatThrownBy(() -> run(policy, null, "\"" + root + "/../secrets\""))
        .isInstanceOf(TaskRejectedException.class)
        .hasMessage(
            "exec: cwd "
                + root
                + "/../secrets ("
                + dir.resolve("secrets").toRealPath()
                + ") is not in an allowed directory (worker --exec-cwd-allow)");
  }

  /** The real path is checked: a link inside the root that leads out of it does not count. */
  @Test
  void aSymbolicLinkCannotLeadOutOfAnAllowedRoot() throws Exception {
    Path root = Files.createDirectories(dir.resolve("jobs"));
    Path outside = Files.createDirectories(dir.resolve("secrets"));
    Path link = Files.createSymbolicLink(root.resolve("escape"), outside);
    ExecPolicy policy = new ExecPolicy(SH, List.of(), List.of(root));

    assertThatThrownBy(() -> run(policy, null, "\"" + link + "\""))
        .isInstanceOf(TaskRejectedException.class)
        .hasMessageContaining("(" + outside.toRealPath() + ") is not in an allowed directory");
  }

  /** A prefix of the name is not a parent: /x/jobs2 is not inside /x/jobs. */
  @Test
  void aSiblingWithTheRootAsPrefixIsNotInside() throws Exception {
    Path root = Files.createDirectories(dir.resolve("jobs"));
    Path sibling = Files.createDirectories(dir.resolve("jobs2"));
    ExecPolicy policy = new ExecPolicy(SH, List.of(), List.of(root));

    assertThatThrownBy(() -> run(policy, null, "\"" + sibling + "\""))
        .isInstanceOf(TaskRejectedException.class)
        .hasMessageContaining("is not in an allowed directory");
  }

  @Test
  void aMissingRelativeOrNonDirectoryCwdIsRejected() throws Exception {
    Path root = Files.createDirectories(dir.resolve("jobs"));
    Path file = Files.writeString(root.resolve("file"), "x");
    ExecPolicy policy = new ExecPolicy(SH, List.of(), List.of(root));

    assertThatThrownBy(() -> run(policy, null, "\"" + root + "/nope\""))
        .hasMessage("exec: cwd does not exist: " + root + "/nope");
    assertThatThrownBy(() -> run(policy, null, "\"jobs\""))
        .hasMessage("exec: cwd must be an absolute path: jobs");
    assertThatThrownBy(() -> run(policy, null, "\"" + file + "\""))
        .hasMessage("exec: cwd is not a directory: " + file);
    assertThatThrownBy(() -> run(policy, null, "42")).hasMessage("exec: cwd must be a string");
  }

  @Test
  void aRelativeRootIsRefusedAtStart() {
    assertThatThrownBy(() -> new ExecPolicy(SH, List.of(), List.of(Path.of("jobs"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--exec-cwd-allow: not an absolute path: jobs");
  }

  /** Runs the policy on a payload with the given env and cwd JSON; returns the directory set. */
  private static Path run(ExecPolicy policy, String env, String cwd) throws TaskRejectedException {
    String payload =
        "{\"command\":[\"/bin/sh\",\"-c\",\"true\"]"
            + (env == null ? "" : ",\"env\":" + env)
            + (cwd == null ? "" : ",\"cwd\":" + cwd)
            + "}";
    ProcessBuilder pb = policy.processFor(ExecContext.of(payload).payloadTree());
    return pb.directory() == null ? null : pb.directory().toPath();
  }
}
