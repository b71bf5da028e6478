package dev.conveyor.protocol;

/** Exit codes shared by every program (docs/design.md, Exit codes). */
public final class ExitCodes {
  private ExitCodes() {}

  public static final int OK = 0;

  /** The operation ran and reported a failure. */
  public static final int FAILURE = 1;

  public static final int USAGE = 2;

  public static final int BROKER_UNREACHABLE = 3;

  /** A worker ended itself because a task could not be killed (docs/design.md). */
  public static final int STUCK_TASK = 70;
}
