package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonValue;

/** The verbs of a control message. */
public enum Command {
  STOP("stop"),
  KILL("kill"),
  PAUSE("pause"),
  RESUME("resume"),
  STATUS("status");

  private final String wire;

  Command(String wire) {
    this.wire = wire;
  }

  @JsonValue
  public String wire() {
    return wire;
  }
}
