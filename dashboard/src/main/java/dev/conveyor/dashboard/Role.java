package dev.conveyor.dashboard;

import java.util.Locale;

/** What a dashboard user may do: a viewer only looks; an operator also stops, kills and replays. */
public enum Role {
  VIEWER,
  OPERATOR;

  public String wire() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * @throws IllegalArgumentException naming the accepted values
   */
  public static Role parse(String value) {
    for (Role r : values()) {
      if (r.wire().equalsIgnoreCase(value == null ? "" : value.trim())) {
        return r;
      }
    }
    throw new IllegalArgumentException("role must be viewer or operator, not '" + value + "'");
  }
}
