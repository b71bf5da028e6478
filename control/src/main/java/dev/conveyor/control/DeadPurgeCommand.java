package dev.conveyor.control;

import dev.conveyor.control.ControlSession.Need;
import dev.conveyor.control.dead.DeadLetters;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.wire.Wire;
import java.io.PrintWriter;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code control dead purge}: deletes dead letters for good. */
@Command(
    name = "purge",
    mixinStandardHelpOptions = true,
    description = "Deletes dead letters: all of them, or those with the given ids.")
final class DeadPurgeCommand implements Callable<Integer> {

  @Mixin BrokerOptions broker;

  @ArgGroup(exclusive = true, multiplicity = "1", heading = "Selection (exactly one):%n")
  DeadSelection selection;

  @Option(names = "--json", description = "Print one JSON document.")
  boolean json;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Set<String> ids = selection.ids();
    DeadLetters.PurgeResult result;
    try (ControlSession session =
        ControlSession.openExisting(
            broker, "dead purge", List.of(Need.queue(broker.settings().names().deadQueue())))) {
      result = DeadLetters.purge(session.connection(), session.names(), selection.all, ids);
    }
    long purged = result.purged();
    List<String> notFound = result.notFound();
    PrintWriter out = spec.commandLine().getOut();
    out.println(json ? Wire.toJson(result) : "purged " + purged + " message(s)");
    out.flush();
    if (!notFound.isEmpty()) {
      PrintWriter err = spec.commandLine().getErr();
      notFound.forEach(
          id -> err.println("control dead purge: " + id + " is not in the dead-letter queue"));
      err.flush();
      return ExitCodes.FAILURE;
    }
    return ExitCodes.OK;
  }
}
