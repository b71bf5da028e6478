package dev.conveyor.worker.handlers;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;

/** An exec handler that runs {@code /bin/sh}, with the test's own signaller. */
final class ShellExec {
  private ShellExec() {}

  /**
   * @param signaller runs the later generations of a tree's stop or kill, when the test says so
   */
  static ExecHandler withSignaller(ExecutorService signaller) {
    return new ExecHandler(
        ExecPolicy.programsOnly(List.of(Path.of("/bin/sh"))),
        Path.of(System.getProperty("java.io.tmpdir")),
        signaller);
  }
}
