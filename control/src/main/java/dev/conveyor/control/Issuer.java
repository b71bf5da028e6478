package dev.conveyor.control;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** Who issues a control command: {@code user@host}, repeated in events for the audit trail. */
final class Issuer {
  private Issuer() {}

  static String current() {
    return System.getProperty("user.name", "unknown") + "@" + host();
  }

  private static String host() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      String env = System.getenv("HOSTNAME");
      return env == null || env.isBlank() ? "unknown-host" : env;
    }
  }
}
