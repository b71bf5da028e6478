package dev.conveyor.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Noop tasks per second drained from one quorum queue by 1, 2 and 4 {@code bin/worker} processes
 * (one JVM each, as deployed), in rounds of rotating order (see {@link Rounds}, {@link Drains}).
 */
@Command(
    name = "scaling",
    mixinStandardHelpOptions = true,
    description = {
      "Noop tasks/s drained from one quorum queue by N bin/worker processes (N from --workers),"
          + " timed from the last worker.started to the last outcome; a warm-up round, then --runs"
          + " rounds, the order rotated each round."
    })
public final class ScalingBench implements Callable<Integer> {

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--workers",
      split = ",",
      defaultValue = "1,2,4",
      description = "Worker process counts to compare (default: ${DEFAULT-VALUE}).")
  List<Integer> workers;

  @Option(
      names = "--messages",
      defaultValue = "20000",
      description = "Tasks pre-published per drain (default: ${DEFAULT-VALUE}).")
  int messages;

  @Option(
      names = "--runs",
      defaultValue = "3",
      description = "Measured rounds after the warm-up round (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(
      names = "--worker-flags",
      defaultValue = "--concurrency 4",
      description = "Flags of every bin/worker (default: ${DEFAULT-VALUE}).")
  String workerFlags;

  @Option(
      names = "--timeout",
      defaultValue = "300",
      description = "Seconds one drain may take (default: ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Option(
      names = "--repo",
      defaultValue = "${sys:conveyor.repo:-.}",
      description = "The repository, for bin/worker and its built jar (default: bench/run's).")
  Path repo;

  @Override
  public Integer call() throws Exception {
    Optional<WorkerLauncher> found = WorkerLauncher.find(repo);
    if (found.isEmpty()) {
      System.err.println(
          "scaling: no bin/worker or built worker jar in " + repo + " (mvn package)");
      return 2;
    }
    WorkerLauncher launcher = found.get().snapshot();
    List<String> flags = Arrays.asList(workerFlags.trim().split("\\s+"));
    Report report = new Report("scaling");
    try (Harness h = Harness.open(common.uri, "scale");
        Drains drains = new Drains(h, common.uri, timeoutSeconds)) {
      report.put("broker", h.brokerVersion());
      report.put("workerFlags", flags);
      report.text("Conveyor scaling — %s", Report.Machine.line());
      report.text(
          "broker: RabbitMQ %s; %d noop tasks per drain from one quorum queue by N bin/worker"
              + " processes (%s each); a warm-up round, then %d rounds, order rotated",
          h.brokerVersion(), messages, workerFlags, runs);
      List<Rounds.Contender> contenders = new ArrayList<>();
      for (int n : workers) {
        String label = n + (n == 1 ? " worker" : " workers");
        String name = "bench-scale-" + n;
        contenders.add(
            new Rounds.Contender(
                label, () -> drains.processes(name, launcher, n, flags, messages)));
      }
      Rounds rounds = Rounds.run(contenders, runs);
      report.text("");
      List<Rounds.Ratio> ratios = new ArrayList<>();
      for (Rounds.Contender c :
          contenders.subList(Math.min(1, contenders.size()), contenders.size())) {
        ratios.add(new Rounds.Ratio(c.label(), contenders.getFirst().label()));
      }
      rounds.report(report, "scaling", "msg/s", ratios);
    } finally {
      launcher.deleteSnapshot();
    }
    report.print(System.out, common.json);
    return 0;
  }
}
