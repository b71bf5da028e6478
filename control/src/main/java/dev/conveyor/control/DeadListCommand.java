package dev.conveyor.control;

import dev.conveyor.control.ControlSession.Need;
import dev.conveyor.control.dead.DeadLetter;
import dev.conveyor.control.dead.DeadLetters;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.cli.FlagChecks;
import dev.conveyor.protocol.wire.Wire;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code control dead list}: what is in the dead-letter queue, leaving it there. */
@Command(
    name = "list",
    mixinStandardHelpOptions = true,
    description = {
      "Shows dead letters (id, type, reason, cause, origin queue); consumes nothing.",
      "Each letter is read and an identical copy put back, in the same order, so that the broker"
          + " does not count the listing as a delivery."
    })
final class DeadListCommand implements Callable<Integer> {

  @Mixin BrokerOptions broker;

  @Option(names = "--json", description = "Print a JSON array.")
  boolean json;

  @Option(
      names = "--limit",
      paramLabel = "N",
      defaultValue = "100",
      description = "Show at most N messages (default: ${DEFAULT-VALUE}).")
  int limit;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    FlagChecks.atLeast("--limit", limit, 1);
    PrintWriter out = spec.commandLine().getOut();
    String queue = broker.settings().names().deadQueue();
    DeadLetters.Listing listing;
    try (ControlSession session =
        ControlSession.openExisting(broker, "dead list", List.of(Need.queue(queue)))) {
      // All of them, even past --limit: putting back only some would change the order.
      listing = DeadLetters.list(session.connection(), session.names());
    }
    List<DeadLetter> letters = listing.letters();
    String problem = listing.problem();
    List<DeadLetter> shown = letters.subList(0, Math.min(limit, letters.size()));
    if (json) {
      out.println(Wire.toJson(shown));
    } else if (shown.isEmpty()) {
      out.println("no dead letters in " + queue);
    } else {
      print(shown, out);
      if (letters.size() > shown.size()) {
        out.println("showing " + shown.size() + " of " + letters.size() + " (use --limit)");
      }
    }
    out.flush();
    if (problem != null) {
      PrintWriter err = spec.commandLine().getErr();
      err.println(
          "control dead list: could not put the letters back unchanged ("
              + problem
              + "); they went back to the queue as read, which the broker counts as a delivery");
      err.flush();
      return ExitCodes.FAILURE;
    }
    return ExitCodes.OK;
  }

  private static void print(List<DeadLetter> letters, PrintWriter out) {
    Table table = new Table("", "ID", "TYPE", "REASON", "CAUSE", "ORIGIN", "ATTEMPTS", "SIZE");
    for (DeadLetter d : letters) {
      table.row(d.id(), d.type(), d.reason(), d.cause(), d.origin(), d.attempts(), d.size() + "B");
    }
    table.print(out);
    for (DeadLetter d : letters) {
      if (d.history() != null && !d.history().isEmpty()) {
        out.println();
        out.println((d.id() == null ? "(no id)" : d.id()) + " history:");
        d.history().forEach(line -> out.println("  " + line));
      }
    }
  }
}
