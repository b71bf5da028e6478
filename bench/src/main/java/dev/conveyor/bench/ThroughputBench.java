package dev.conveyor.bench;

import dev.conveyor.protocol.UsageException;
import dev.conveyor.worker.WorkerConfig;
import dev.conveyor.worker.WorkerMain;
import dev.conveyor.worker.messaging.EventLevel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Noop tasks per second drained from one quorum queue by bare amqp-client consumers and by one
 * in-process Conveyor worker, with its defaults and at a given setting, in rounds of rotating order
 * (see {@link Rounds}, {@link Drains}).
 */
@Command(
    name = "throughput",
    mixinStandardHelpOptions = true,
    description = {
      "Noop tasks/s drained from one quorum queue by: raw (amqp-client, prefetch = --concurrency,"
          + " one ack per message), raw-batched (--prefetch, an ack with multiple=true every"
          + " --ack-every), raw+events (raw publishing the two events per task a worker must),"
          + " raw+threads (raw+events on a worker's threads), conveyor (one in-process worker,"
          + " defaults), conveyor-set (the same with --conveyor-flags) and conveyor-none"
          + " (conveyor-set's flags with --events none: no event per task, timed by the worker's"
          + " own state). A warm-up round, then --runs rounds, the order rotated each round."
    })
public final class ThroughputBench implements Callable<Integer> {

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--messages",
      defaultValue = "20000",
      description = "Tasks pre-published per drain (default: ${DEFAULT-VALUE}).")
  int messages;

  @Option(
      names = "--runs",
      defaultValue = "5",
      description = "Measured rounds after the warm-up round (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(
      names = "--warmup",
      defaultValue = "1",
      description =
          "Warm-up rounds, discarded (default: ${DEFAULT-VALUE}); the JIT compiler is still at work"
              + " on the worker during the first ones of short drains.")
  int warmup;

  @Option(
      names = "--concurrency",
      defaultValue = "4",
      description = "Worker concurrency = prefetch of raw (default: ${DEFAULT-VALUE}).")
  int concurrency;

  @Option(
      names = "--prefetch",
      defaultValue = "64",
      description = "Prefetch of raw-batched (default: ${DEFAULT-VALUE}).")
  int prefetch;

  @Option(
      names = "--ack-every",
      defaultValue = "32",
      description =
          "raw-batched acks (multiple=true) every N deliveries (default: ${DEFAULT-VALUE}).")
  int ackEvery;

  @Option(
      names = "--conveyor-flags",
      defaultValue = "--concurrency 1 --prefetch 64 --events final",
      description =
          "bin/worker flags of conveyor-set, added to --concurrency unless they set their own;"
              + " it is left out, with the worker's reason, when the worker refuses them (default:"
              + " ${DEFAULT-VALUE}).")
  String conveyorFlags;

  @Option(
      names = "--consumers",
      split = ",",
      defaultValue = "raw,raw-batched,raw+events,raw+threads,conveyor,conveyor-set,conveyor-none",
      description = "Which consumers to run (default: ${DEFAULT-VALUE}).")
  List<String> consumers;

  @Option(
      names = "--timeout",
      defaultValue = "300",
      description = "Seconds one drain may take (default: ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Override
  public Integer call() throws Exception {
    if (warmup < 1) {
      throw new UsageException("--warmup: at least 1 round, got " + warmup);
    }
    Report report = new Report("throughput");
    try (Harness h = Harness.open(common.uri, "tp");
        Drains drains = new Drains(h, common.uri, timeoutSeconds)) {
      report.put("broker", h.brokerVersion());
      report.text("Conveyor throughput — %s", Report.Machine.line());
      report.text(
          "broker: RabbitMQ %s; %d noop tasks per drain from one quorum queue; %d warm-up"
              + " round(s), then %d rounds, the order rotated by one each round",
          h.brokerVersion(), messages, warmup, runs);
      List<String> defaults = List.of("--concurrency", Integer.toString(concurrency));
      List<String> own = Arrays.asList(conveyorFlags.trim().split("\\s+"));
      List<String> set = new ArrayList<>(namesConcurrency(own) ? List.of() : defaults);
      set.addAll(own);
      report.text("  conveyor:     in-process worker, bin/worker %s", String.join(" ", defaults));
      report.text("  conveyor-set: in-process worker, bin/worker %s", String.join(" ", set));
      report.put("conveyorSetFlags", set);
      List<String> none = withEventsNone(set);
      report.text("  conveyor-none: in-process worker, bin/worker %s", String.join(" ", none));
      List<Rounds.Contender> contenders = new ArrayList<>();
      for (String c : consumers) {
        Rounds.Measure m =
            switch (c) {
              case "raw" -> raw(drains, c, concurrency, 1, false, false);
              case "raw-batched" -> raw(drains, c, prefetch, ackEvery, false, false);
              case "raw+events" -> raw(drains, c, concurrency, 1, true, false);
              case "raw+threads" -> raw(drains, c, concurrency, 1, true, true);
              case "conveyor" -> conveyor(drains, h, c, defaults);
              case "conveyor-set" -> conveyor(drains, h, c, set);
              case "conveyor-none" -> conveyor(drains, h, c, none);
              default -> throw new IllegalArgumentException("--consumers: unknown consumer " + c);
            };
        if (m == null) {
          report.text("  %s: left out: %s", c, refusal(h, set));
        } else {
          contenders.add(new Rounds.Contender(c, m));
        }
      }
      Rounds rounds = Rounds.run(contenders, warmup, runs);
      report.text("");
      rounds.report(
          report,
          "throughput",
          "msg/s",
          List.of(
              new Rounds.Ratio("conveyor", "raw", 0.85),
              new Rounds.Ratio("conveyor-set", "raw", 3.0),
              new Rounds.Ratio("conveyor-set", "raw-batched", 0.8),
              new Rounds.Ratio("conveyor-none", "raw", 3.0),
              new Rounds.Ratio("conveyor-none", "raw-batched", 0.8),
              new Rounds.Ratio("raw-batched", "raw"),
              new Rounds.Ratio("raw+events", "raw"),
              new Rounds.Ratio("raw+threads", "raw"),
              new Rounds.Ratio("conveyor", "raw+threads")));
    }
    report.print(System.out, common.json);
    return 0;
  }

  private Rounds.Measure raw(
      Drains drains, String label, int prefetch, int ackEvery, boolean events, boolean threads) {
    Drains.Raw spec = new Drains.Raw(label, prefetch, ackEvery, events, threads);
    return () -> drains.raw(spec, messages);
  }

  /** Null when the worker refuses the flags (a flag it does not have yet, say). */
  private Rounds.Measure conveyor(Drains drains, Harness h, String label, List<String> flags) {
    WorkerConfig config;
    try {
      config = WorkerMain.configFromFlags(h.settings(), flags);
    } catch (UsageException e) {
      return null;
    }
    int[] n = {0};
    boolean silent = config.events() == EventLevel.NONE;
    return () -> {
      WorkerConfig named =
          config
              .withName("bench-" + label + "-" + ++n[0])
              .withExit(code -> Harness.progress("worker asked to exit with %d (ignored)", code));
      return silent
          ? drains.inProcessSilent(label, named, messages)
          : drains.inProcess(label, named, messages);
    };
  }

  /** The flags with {@code --events none} in place of any events level they set. */
  private static List<String> withEventsNone(List<String> flags) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < flags.size(); i++) {
      String f = flags.get(i);
      if (f.equals("--events")) {
        i++; // and its value
      } else if (!f.startsWith("--events=")) {
        out.add(f);
      }
    }
    out.addAll(List.of("--events", "none"));
    return out;
  }

  /** Whether the flags set the concurrency themselves: then they are not added to --concurrency. */
  private static boolean namesConcurrency(List<String> flags) {
    return flags.stream()
        .anyMatch(f -> f.equals("--concurrency") || f.startsWith("--concurrency="));
  }

  private static String refusal(Harness h, List<String> flags) {
    try {
      WorkerMain.configFromFlags(h.settings(), flags);
      return "?";
    } catch (UsageException e) {
      return e.getMessage();
    }
  }
}
