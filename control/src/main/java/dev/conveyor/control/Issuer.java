package dev.conveyor.control;

import dev.conveyor.protocol.HostName;

/** Who issues a control command: {@code user@host}, repeated in events for the audit trail. */
final class Issuer {
  private Issuer() {}

  static String current() {
    return System.getProperty("user.name", "unknown") + "@" + HostName.get();
  }
}
