package dev.conveyor.worker.ops;

import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT as the worker needs them: the first starts a graceful shutdown, a second one
 * skips the wait. The JVM's default handler would only run shutdown hooks once.
 */
public final class TerminationSignals {
  private TerminationSignals() {}

  public static void install(Runnable first, Runnable again) {
    AtomicInteger count = new AtomicInteger();
    for (String name : new String[] {"TERM", "INT"}) {
      Signal.handle(
          new Signal(name),
          sig -> {
            if (count.getAndIncrement() == 0) {
              Thread t = new Thread(first, "conveyor-shutdown");
              t.start();
            } else {
              again.run();
            }
          });
    }
  }
}
