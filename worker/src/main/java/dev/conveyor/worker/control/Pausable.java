package dev.conveyor.worker.control;

/** What pause and resume act on: the worker's intake of new tasks. */
public interface Pausable {
  void pause();

  void resume();

  boolean paused();
}
