package dev.conveyor.control;

import dev.conveyor.control.ControlSession.Need;
import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.broker.Reconnections;
import dev.conveyor.protocol.cli.FlagChecks;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code control watch}: live lifecycle events, one per line. */
@Command(
    name = "watch",
    mixinStandardHelpOptions = true,
    description = {
      "Prints live lifecycle events, one per line.",
      "Runs until Ctrl-C, or until --for has passed or --count events were printed."
    })
final class WatchCommand implements Callable<Integer> {

  @Mixin BrokerOptions broker;

  @Option(names = "--json", description = "One compact JSON object per line (event = routing key).")
  boolean json;

  @Option(
      names = "--for",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "Stop after this long.")
  Duration duration;

  @Option(names = "--count", paramLabel = "N", description = "Stop after N events.")
  Integer count;

  @Option(
      names = "--filter",
      paramLabel = "PATTERN",
      split = ",",
      defaultValue = "#",
      description =
          "Routing-key patterns, e.g. task.*, worker.*, task.cancelled, command.applied"
              + " (default: every event).")
  List<String> filters;

  @Spec CommandSpec spec;

  private int printed;

  @Override
  public Integer call() throws Exception {
    FlagChecks.atLeast("--count", count, 1);
    FlagChecks.positive("--for", duration);
    List<String> patterns = Targets.nonBlank("--filter", filters);
    PrintWriter out = spec.commandLine().getOut();
    CountDownLatch enough = new CountDownLatch(1);
    try (ControlSession session =
            ControlSession.openExisting(
                broker,
                "watch",
                List.of(Need.exchange(broker.settings().names().eventsExchange())));
        EventSubscription events =
            EventSubscription.openExisting(
                session.connection(),
                session.topology(),
                patterns,
                event -> print(event, out, enough))) {
      PrintWriter err = spec.commandLine().getErr();
      Reconnections.report(
          session.connection(),
          line -> {
            err.println("watch: " + line);
            err.flush();
          },
          "events published while disconnected were not shown");
      err.println(
          "watching "
              + session.names().eventsExchange()
              + " for "
              + String.join(",", patterns)
              + " (Ctrl-C to stop)");
      err.flush();
      if (duration != null) {
        enough.await(duration.toMillis(), TimeUnit.MILLISECONDS);
      } else {
        enough.await();
      }
    }
    return ExitCodes.OK;
  }

  private synchronized void print(Event event, PrintWriter out, CountDownLatch enough) {
    if (count != null && printed >= count) {
      return;
    }
    out.println(json ? EventLine.json(event) : EventLine.text(event));
    out.flush();
    printed++;
    if (count != null && printed >= count) {
      enough.countDown();
    }
  }
}
