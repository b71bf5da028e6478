package dev.conveyor.worker.handlers;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

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
}
