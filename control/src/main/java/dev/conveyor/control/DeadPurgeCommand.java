package dev.conveyor.control;

import com.rabbitmq.client.Channel;
import dev.conveyor.control.ControlSession.Need;
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

  record Result(long purged, List<String> notFound) {}

  @Override
  public Integer call() throws Exception {
    Set<String> ids = selection.ids();
    long purged;
    List<String> notFound = List.of();
    try (ControlSession session =
            ControlSession.openExisting(
                broker, "dead purge", List.of(Need.queue(broker.settings().names().deadQueue())));
        Channel ch = session.connection().createChannel()) {
      if (selection.all) {
        purged = ch.queuePurge(session.names().deadQueue()).getMessageCount();
      } else {
        ch.confirmSelect();
        List<DeadLetter> all = DeadQueue.takeAll(ch, session.names());
        List<DeadLetter> letters = DeadQueue.select(all, false, ids);
        // The others stay as they were, in their order (see DeadQueue); every original is acked
        // once the copies of those are confirmed.
        DeadQueue.putBack(ch, session.names(), DeadQueue.except(all, letters));
        DeadQueue.confirmAndAck(ch, all);
        purged = letters.size();
        notFound = DeadQueue.missing(ids, letters);
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    out.println(
        json ? Wire.toJson(new Result(purged, notFound)) : "purged " + purged + " message(s)");
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
