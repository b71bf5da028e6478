package dev.conveyor.control;

import dev.conveyor.protocol.wire.Target;
import java.util.List;
import picocli.CommandLine.Option;

/** Whom a stop or kill addresses: exactly one kind, as picocli exclusive argument groups. */
final class Targets {
  private Targets() {}

  /** The targets of {@code kill}: all tasks, named tasks, or every task of named workers. */
  static class KillTargets {
    @Option(names = "--all", required = true, description = "Every running task on every worker.")
    boolean all;

    @Option(
        names = "--task",
        arity = "1..*",
        paramLabel = "ID",
        required = true,
        description = "These tasks; one still queued is revoked for when it arrives.")
    List<String> tasks;

    @Option(
        names = "--worker",
        arity = "1..*",
        paramLabel = "NAME",
        required = true,
        description = "Every running task on these workers.")
    List<String> workers;

    Target target() {
      if (all) {
        return Target.all();
      }
      if (tasks != null) {
        return new Target.Tasks(nonBlank("--task", tasks));
      }
      return new Target.Workers(nonBlank("--worker", workers));
    }
  }

  /** The targets of {@code stop}: those of kill, and every running task of named types. */
  static class StopTargets extends KillTargets {
    @Option(
        names = "--type",
        arity = "1..*",
        paramLabel = "TYPE",
        required = true,
        description = "Every running task of these types.")
    List<String> types;

    @Override
    Target target() {
      return types != null ? new Target.Types(nonBlank("--type", types)) : super.target();
    }
  }

  static List<String> nonBlank(String option, List<String> values) {
    if (values.stream().anyMatch(v -> v == null || v.isBlank())) {
      throw new IllegalArgumentException(option + " needs non-empty values");
    }
    return values.stream().distinct().toList();
  }
}
