package dev.conveyor.protocol;

/** Bad input from the user (a missing file, a bad line); programs exit 2 with its message. */
public class UsageException extends RuntimeException {
  public UsageException(String message) {
    super(message);
  }
}
