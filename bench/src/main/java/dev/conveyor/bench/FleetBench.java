package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import dev.conveyor.control.ControlMain;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.worker.Worker;
import dev.conveyor.worker.WorkerConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The control plane with a fleet: {@code --workers} in-process {@link Worker} instances (each with
 * its own connection, as separate processes would have), then {@code stop --all} rounds — from just
 * before the command is published to the receipt of the last worker's {@code command.applied} — and
 * {@code control status} rounds naming every worker, run in this JVM (so the CLI's own start is not
 * counted), from the call to its return with every worker's reply.
 */
@CommandLine.Command(
    name = "fleet",
    mixinStandardHelpOptions = true,
    description = {
      "N in-process workers, each with its own connection: stop --all (publish -> last"
          + " command.applied) and control status (every worker answered) latencies."
    })
public class FleetBench implements Callable<Integer> {

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--workers",
      defaultValue = "200",
      description = "In-process workers (default: ${DEFAULT-VALUE}).")
  int workers;

  @Option(
      names = "--rounds",
      defaultValue = "30",
      description = "Rounds of stop --all (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(
      names = "--status-rounds",
      defaultValue = "10",
      description = "Rounds of control status (default: ${DEFAULT-VALUE}).")
  int statusRounds;

  @Option(
      names = "--spread",
      split = ",",
      paramLabel = "URI",
      description =
          "A cluster's nodes (e.g. bin/cluster up's list): worker i connects to the i-th (its list"
              + " rotated, the rest for failover) instead of --uri.")
  List<URI> spread = List.of();

  @Option(
      names = "--warmup",
      defaultValue = "5",
      description = "Rounds of each run first and not counted (default: ${DEFAULT-VALUE}).")
  int warmup;

  private final Map<String, CountDownLatch> pending = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> lastApplied = new ConcurrentHashMap<>();

  @Override
  public Integer call() throws Exception {
    Report report = new Report("fleet");
    List<Worker> fleet = new ArrayList<>();
    try (Harness h = Harness.open(common.uri, "fleet")) {
      h.topology().declareControlLog(h.connection().createChannel());
      try (EventSubscription events =
          EventSubscription.open(
              h.connection(), h.topology(), List.of("command.applied"), this::onEvent)) {
        Conditions.Meter startMeter = Conditions.start();
        long t0 = System.nanoTime();
        for (int i = 1; i <= workers; i++) {
          fleet.add(Worker.start(config(h, i)));
          if (i % 50 == 0) {
            progress("%d workers started", i);
          }
        }
        double startSeconds = (System.nanoTime() - t0) / 1e9;
        Conditions startConditions = startMeter.end();
        report
            .text(
                "%d workers (one connection each%s) started one after the other in %.1f s %s",
                workers,
                spread.isEmpty() ? "" : ", spread over " + spread.size() + " nodes",
                startSeconds,
                startConditions)
            .put("nodes", Math.max(1, spread.size()))
            .put("workers", workers)
            .put("startSeconds", Stats.round1(startSeconds))
            .put("startConditions", startConditions.json());

        List<Double> stop = new ArrayList<>();
        Conditions.Meter stopMeter = Conditions.start();
        for (int r = 0; r < warmup + rounds; r++) {
          double ms = stopAll(h);
          if (r >= warmup) {
            stop.add(ms);
          }
        }
        Conditions stopConditions = stopMeter.end();
        Stats s = new Stats(stop);
        report
            .text(
                "stop --all to %d workers, publish -> last command.applied (ms): p50 %.1f, p90 %.1f,"
                    + " p99 %.1f, max %.1f over %d rounds %s",
                workers,
                s.median(),
                s.percentile(90),
                s.percentile(99),
                s.max(),
                s.count(),
                stopConditions)
            .put("stopAllMs", s.summary())
            .put("stopAllConditions", stopConditions.json());

        List<Double> status = new ArrayList<>();
        Conditions.Meter statusMeter = Conditions.start();
        for (int r = 0; r < warmup + statusRounds; r++) {
          double ms = status(h);
          if (r >= warmup) {
            status.add(ms);
          }
        }
        Conditions statusConditions = statusMeter.end();
        Stats st = new Stats(status);
        report
            .text(
                "control status of %d workers, in-process call -> every reply (ms): p50 %.1f, max"
                    + " %.1f over %d rounds %s",
                workers, st.median(), st.max(), st.count(), statusConditions)
            .put("statusMs", st.summary())
            .put("statusConditions", statusConditions.json());
      } finally {
        progress("closing %d workers", fleet.size());
        for (Worker w : fleet) {
          w.close();
        }
      }
    }
    report.print(System.out, common.json);
    return 0;
  }

  /** Worker i's settings: --uri, or the --spread list rotated to start at its node. */
  private WorkerConfig config(Harness h, int i) {
    String name = "fleet-w" + i;
    WorkerConfig c = h.workerConfig(name);
    if (!spread.isEmpty()) {
      List<URI> rotated = new ArrayList<>();
      for (int k = 0; k < spread.size(); k++) {
        rotated.add(spread.get((i - 1 + k) % spread.size()));
      }
      c = c.withBroker(new BrokerSettings(rotated, h.names().namespace(), Optional.empty()));
    }
    return c.withConcurrency(1).withHeartbeat(Duration.ofSeconds(30));
  }

  private void onEvent(Event event) {
    if (event instanceof Event.Applied a) {
      CountDownLatch latch = pending.get(a.event().command());
      if (latch != null) {
        lastApplied.get(a.event().command()).set(System.nanoTime());
        latch.countDown();
      }
    }
  }

  /** One {@code stop --all}: ms from just before the publish to the last command.applied. */
  private double stopAll(Harness h) throws Exception {
    ControlMessage m =
        new ControlMessage(
            Ids.newId(),
            Command.STOP,
            Target.all(),
            false,
            Instant.now(),
            "bench@" + WorkerConfig.host());
    CountDownLatch latch = new CountDownLatch(workers);
    lastApplied.put(m.id(), new AtomicLong());
    pending.put(m.id(), latch);
    long sent = h.publishControl(m);
    if (!latch.await(60, TimeUnit.SECONDS)) {
      throw new IllegalStateException(
          "stop --all: "
              + latch.getCount()
              + " of "
              + workers
              + " workers did not apply it in 60 s");
    }
    pending.remove(m.id());
    return Stats.millis(lastApplied.remove(m.id()).get() - sent);
  }

  /** One {@code control status --worker <all of them>}, run in this JVM: ms to its return. */
  private double status(Harness h) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "status",
                "--json",
                "--timeout",
                "30s",
                "--uri",
                common.uri.toString(),
                "--namespace",
                h.names().namespace(),
                "--worker"));
    for (int i = 1; i <= workers; i++) {
      args.add("fleet-w" + i);
    }
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    long t0 = System.nanoTime();
    int code =
        ControlMain.commandLine()
            .setOut(new PrintWriter(out))
            .setErr(new PrintWriter(err))
            .execute(args.toArray(String[]::new));
    double ms = Stats.millis(System.nanoTime() - t0);
    if (code != 0) {
      throw new IllegalStateException("control status exited " + code + ": " + err);
    }
    return ms;
  }
}
