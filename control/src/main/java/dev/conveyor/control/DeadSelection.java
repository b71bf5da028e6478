package dev.conveyor.control;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Option;

/** Which dead letters replay or purge acts on: all of them, or those with the given ids. */
final class DeadSelection {
  @Option(names = "--all", required = true, description = "Every message in the dead-letter queue.")
  boolean all;

  @Option(
      names = "--id",
      arity = "1..*",
      paramLabel = "ID",
      required = true,
      description =
          "The letters with these task ids, as dead list shows them (the body's id, else"
              + " the message_id).")
  List<String> ids;

  Set<String> ids() {
    return ids == null ? Set.of() : new LinkedHashSet<>(Targets.nonBlank("--id", ids));
  }
}
