package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.execution.TaskRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExecHandlerTest {

  @Test
  void aRelativeAllowedProgramIsRefusedAtStart() {
    assertThatThrownBy(() -> new ExecHandler(List.of(Path.of("/bin/sh"), Path.of("bin/tool"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("--exec-allow: not an absolute path: bin/tool");
  }

  @Test
  void absoluteProgramsAreAccepted() {
    assertThatCode(() -> new ExecHandler(List.of(Path.of("/bin/sh"), Path.of("/bin/sleep"))))
        .doesNotThrowAnyException();
  }

  /**
   * The output files are deleted on a thread of their own (an unlink can wait for the file system's
   * journal); none may be left once the handler is closed, whether the task succeeded or failed.
   */
  @Test
  void outputIsReturnedAndItsFilesAreGoneOnceClosed(@TempDir Path dir) throws Exception {
    ExecHandler exec = new ExecHandler(List.of(Path.of("/bin/sh")), dir);
    try {
      Object result = exec.handle(run(exec, "echo hello"));
      assertThat(result).isInstanceOf(Map.class);
      assertThat(((Map<?, ?>) result).get("output")).isEqualTo("hello\n");
      assertThatThrownBy(() -> exec.handle(run(exec, "echo broken; exit 3")))
          .hasMessage("exit code 3: broken");
    } finally {
      exec.close();
    }
    try (Stream<Path> left = Files.list(dir)) {
      assertThat(left).isEmpty();
    }
  }

  private static TaskRun run(ExecHandler exec, String script) throws Exception {
    TaskMessage task =
        new TaskMessage(
            "t",
            "exec",
            Wire.JSON
                .createObjectNode()
                .set("command", Wire.JSON.createArrayNode().add("/bin/sh").add("-c").add(script)),
            null,
            null,
            null,
            null,
            null);
    return new TaskRun(task, null, 1, exec);
  }
}
