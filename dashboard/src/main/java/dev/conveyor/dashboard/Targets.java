package dev.conveyor.dashboard;

import dev.conveyor.protocol.wire.Target;
import java.util.List;

/** Turns the dashboard's form fields into a command's target, and back into words. */
final class Targets {
  private Targets() {}

  /**
   * @param kind task, worker, type or all
   * @throws IllegalArgumentException for an unknown kind or a missing value
   */
  static Target parse(String kind, String value) {
    String v = value == null ? "" : value.strip();
    if ("all".equals(kind)) {
      return new Target.All();
    }
    if (v.isEmpty() || v.length() > 256) {
      throw new IllegalArgumentException("a " + kind + " target needs a value");
    }
    return switch (kind == null ? "" : kind) {
      case "task" -> new Target.Tasks(List.of(v));
      case "worker" -> new Target.Workers(List.of(v));
      case "type" -> new Target.Types(List.of(v));
      default -> throw new IllegalArgumentException("unknown target kind '" + kind + "'");
    };
  }

  static String describe(Target t) {
    return switch (t) {
      case Target.All a -> "all";
      case Target.Tasks ts -> "task " + String.join(", ", ts.ids());
      case Target.Workers w -> "worker " + String.join(", ", w.names());
      case Target.Types ty -> "type " + String.join(", ", ty.types());
    };
  }
}
