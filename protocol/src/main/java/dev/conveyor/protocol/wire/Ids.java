package dev.conveyor.protocol.wire;

import java.util.UUID;

/** Task and command ids: random UUIDs, so any producer can mint them without coordination. */
public final class Ids {
  private Ids() {}

  public static String newId() {
    return UUID.randomUUID().toString();
  }
}
