package dev.conveyor.control;

import com.rabbitmq.client.Channel;
import dev.conveyor.control.ControlSession.Need;
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
    description = "Shows dead letters (id, type, reason, cause, origin queue); consumes nothing.")
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
    try (ControlSession session =
            ControlSession.openExisting(
                broker, "dead list", List.of(Need.queue(broker.settings().names().deadQueue())));
        Channel ch = session.connection().createChannel()) {
      String queue = session.names().deadQueue();
      long total = ch.queueDeclarePassive(queue).getMessageCount();
      // Held unacknowledged until the channel closes, then all of them go back.
      List<DeadLetter> letters = DeadQueue.take(ch, session.names(), limit);
      if (json) {
        out.println(Wire.toJson(letters));
      } else if (letters.isEmpty()) {
        out.println("no dead letters in " + queue);
      } else {
        print(letters, out);
        if (total > letters.size()) {
          out.println("showing " + letters.size() + " of " + total + " (use --limit)");
        }
      }
      out.flush();
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
