package dev.conveyor.worker.ops;

import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT as the worker needs them: the first starts a graceful shutdown, a second one
 * skips the wait. The JVM's default handler would only run shutdown hooks once.
 */
public final class TerminationSignals {
  private TerminationSignals() {}

  /**
   * A shutdown that dies (say, its jar was replaced under it) must not leave a half-closed worker
   * hanging: the broker requeues whatever it still holds once the process is gone.
   */
  private static void runOrHalt(Runnable shutdown) {
    try {
      shutdown.run();
    } catch (Throwable t) {
      System.err.println("worker: shutdown failed, halting: " + t);
      Runtime.getRuntime().halt(1);
    }
  }

  public static void install(Runnable first, Runnable again) {
    AtomicInteger count = new AtomicInteger();
    for (String name : new String[] {"TERM", "INT"}) {
      Signal.handle(
          new Signal(name),
          sig -> {
            if (count.getAndIncrement() == 0) {
              Thread t = new Thread(() -> runOrHalt(first), "conveyor-shutdown");
              t.start();
            } else {
              again.run();
            }
          });
    }
  }
}
