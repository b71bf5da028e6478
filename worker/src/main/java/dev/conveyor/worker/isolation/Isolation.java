package dev.conveyor.worker.isolation;

/** Where a worker runs its Java handlers: on its own task threads, or in child JVMs. */
public enum Isolation {
  /**
   * On the worker's task threads (the default): a handler that ignores its kill ends the worker.
   */
  THREAD("thread"),
  /** In a pool of child JVMs: a kill or a crash ends one child, not the worker. */
  PROCESS("process");

  private final String word;

  Isolation(String word) {
    this.word = word;
  }

  public String word() {
    return word;
  }
}
