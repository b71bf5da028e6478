package dev.conveyor.control;

import dev.conveyor.control.BroadcastOptions.Flags;
import dev.conveyor.protocol.wire.Target;
import java.util.List;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Whom a stop or kill addresses: exactly one kind, a picocli exclusive argument group. A kill
 * addresses all tasks, named tasks, or every task of named workers; a stop also every task of named
 * types.
 */
final class Targets {

  private final OptionSpec all;
  private final OptionSpec tasks;
  private final OptionSpec workers;
  private final OptionSpec types;

  private Targets(CommandSpec spec, boolean withTypes) {
    all =
        Flags.flag("--all")
            .required(true)
            .description("Every running task on every worker.")
            .build();
    tasks =
        Flags.names("--task", "ID")
            .required(true)
            .description("These tasks; one still queued is revoked for when it arrives.")
            .build();
    workers =
        Flags.names("--worker", "NAME")
            .required(true)
            .description("Every running task on these workers.")
            .build();
    types =
        withTypes
            ? Flags.names("--type", "TYPE")
                .required(true)
                .description("Every running task of these types.")
                .build()
            : null;
    ArgGroupSpec.Builder group =
        ArgGroupSpec.builder()
            .exclusive(true)
            .multiplicity("1")
            .heading("Target (exactly one):%n")
            .addArg(all)
            .addArg(tasks)
            .addArg(workers);
    if (types != null) {
      group.addArg(types);
    }
    spec.addArgGroup(group.build());
  }

  static Targets ofKill(CommandSpec spec) {
    return new Targets(spec, false);
  }

  static Targets ofStop(CommandSpec spec) {
    return new Targets(spec, true);
  }

  Target target() {
    if (Flags.isSet(all)) {
      return Target.all();
    }
    List<String> named = tasks.getValue();
    if (named != null) {
      return new Target.Tasks(nonBlank("--task", named));
    }
    if (types != null && types.getValue() != null) {
      return new Target.Types(nonBlank("--type", types.getValue()));
    }
    return new Target.Workers(nonBlank("--worker", workers.getValue()));
  }

  static List<String> nonBlank(String option, List<String> values) {
    if (values.stream().anyMatch(v -> v == null || v.isBlank())) {
      throw new IllegalArgumentException(option + " needs non-empty values");
    }
    return values.stream().distinct().toList();
  }
}
