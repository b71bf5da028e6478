package dev.conveyor.worker.isolation;

/**
 * The child JVM running a task ended without answering and without being killed: it exited, was
 * ended by a signal, or ran out of heap. Its message is the reason of the {@code failed} event.
 */
public final class ChildCrashedException extends RuntimeException {

  public ChildCrashedException(String reason) {
    super(reason);
  }

  /**
   * @param heap the {@code --child-heap}, for the out-of-memory reason; null if none was set
   */
  static String reason(Child.Died died, String heap) {
    if (died.outOfMemory()) {
      return "out-of-memory: the child JVM ran out of heap"
          + (heap == null ? "" : " (--child-heap " + heap + ")");
    }
    int exit = died.exitCode();
    if (exit > 128) {
      int signal = exit - 128;
      return "crashed: the child JVM was ended by signal " + signal + signalName(signal);
    }
    return "crashed: the child JVM exited with code " + exit;
  }

  private static String signalName(int signal) {
    return switch (signal) {
      case 6 -> " (SIGABRT)";
      case 9 -> " (SIGKILL)";
      case 11 -> " (SIGSEGV)";
      case 15 -> " (SIGTERM)";
      default -> "";
    };
  }
}
