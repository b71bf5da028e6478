package dev.conveyor.control;

import dev.conveyor.control.ControlSession.Need;
import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.broker.Reconnections;
import dev.conveyor.protocol.cli.FlagChecks;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.KeptEventSubscription;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
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
    PrintWriter err = spec.commandLine().getErr();
    Consumer<String> say =
        line -> {
          synchronized (err) {
            err.println("watch: " + line);
            err.flush();
          }
        };
    ScheduledExecutorService resubscriber =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("conveyor-resubscribe").daemon().unstarted(r));
    try (ControlSession session =
            ControlSession.openExisting(
                broker,
                "watch",
                List.of(Need.exchange(broker.settings().names().eventsExchange())));
        KeptEventSubscription events =
            KeptEventSubscription.openPrivate(
                session.connection(),
                session.topology(),
                false,
                patterns,
                event -> print(event, out, enough),
                resubscriber,
                KeptEventSubscription.Notices.telling(
                    say, "events published meanwhile were not shown"))) {
      Reconnections.report(
          session.connection(), say, "events published while disconnected were not shown");
      synchronized (err) {
        err.println(
            "watching "
                + session.names().eventsExchange()
                + " for "
                + String.join(",", patterns)
                + " (Ctrl-C to stop)");
        err.flush();
      }
      if (duration != null) {
        enough.await(duration.toMillis(), TimeUnit.MILLISECONDS);
      } else {
        enough.await();
      }
    } finally {
      resubscriber.shutdownNow();
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
