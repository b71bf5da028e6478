package dev.conveyor.protocol.wire;

/** A message that cannot be understood; its text is the reason recorded in dead-letter headers. */
public class MalformedMessageException extends Exception {
  public MalformedMessageException(String reason) {
    super(reason);
  }
}
