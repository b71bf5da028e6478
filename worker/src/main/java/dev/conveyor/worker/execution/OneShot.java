package dev.conveyor.worker.execution;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

/**
 * Actions to run once when something happens, however registration and the event interleave: an
 * action registered after {@link #fire} runs at once, on the registering thread, and each action
 * runs exactly once. Whoever removes an action from the queue runs it, so neither the firing thread
 * nor a late registration can miss or repeat one.
 */
final class OneShot {

  private final Queue<Runnable> actions = new ConcurrentLinkedQueue<>();
  private final Consumer<RuntimeException> onFailure;
  private volatile boolean fired;

  /**
   * @param onFailure told of an action that threw; the others still run
   */
  OneShot(Consumer<RuntimeException> onFailure) {
    this.onFailure = onFailure;
  }

  void add(Runnable action) {
    actions.add(action);
    if (fired && actions.remove(action)) {
      run(action);
    }
  }

  /** Runs every registered action (and, from now on, every one registered later). */
  void fire() {
    fired = true;
    Runnable action;
    while ((action = actions.poll()) != null) {
      run(action);
    }
  }

  boolean fired() {
    return fired;
  }

  private void run(Runnable action) {
    try {
      action.run();
    } catch (RuntimeException e) {
      onFailure.accept(e);
    }
  }
}
