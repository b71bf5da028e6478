package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * How long a real {@code bin/worker} process takes from SIGTERM to its exit: idle; with tasks that
 * finish within the shutdown grace; with tasks that outlive it and are requeued; and with a second
 * SIGTERM that skips the grace. The exit is timed by a thread blocked in {@link Process#waitFor}.
 */
@Command(
    name = "shutdown",
    mixinStandardHelpOptions = true,
    description = {
      "SIGTERM -> exit of a bin/worker process: idle; 4 tasks finishing within --shutdown-grace;"
          + " 4 tasks requeued after a 1 s grace; a second SIGTERM 200 ms after the first."
    })
public final class ShutdownBench implements Callable<Integer> {

  static final String SLEEP_2S = "{\"type\":\"sleep\",\"payload\":{\"seconds\":2}}";
  static final String SLEEP_60S = "{\"type\":\"sleep\",\"payload\":{\"seconds\":60}}";

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--rounds",
      defaultValue = "5",
      description = "Rounds of each case (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(
      names = "--second-signal-ms",
      defaultValue = "200",
      description =
          "Delay between the two SIGTERMs of the second-signal case (default: ${DEFAULT-VALUE}).")
  long secondSignalMs;

  @Option(
      names = "--repo",
      defaultValue = "${sys:conveyor.repo:-.}",
      description =
          "The repository, for bin/worker and worker/target/worker*-all.jar"
              + " (default: the one bench/run belongs to).")
  Path repo;

  @Option(
      names = "--start-timeout",
      defaultValue = "60",
      description =
          "Seconds a worker may take to announce worker.started and run its tasks"
              + " (default: ${DEFAULT-VALUE}).")
  int startTimeout;

  @Option(
      names = "--exit-timeout",
      defaultValue = "60",
      description =
          "Seconds after the SIGTERM before a worker that has not exited is killed"
              + " (default: ${DEFAULT-VALUE}).")
  int exitTimeout;

  /** Receipt of worker.started, by the worker's pid. */
  private final Map<Long, Long> startedAt = new ConcurrentHashMap<>();

  private volatile Round current;

  /** One case: how the worker is started, what it runs, and how it should end. */
  private record Case(
      String key,
      String title,
      List<String> args,
      String task,
      int tasks,
      TaskState expectedState,
      Cause expectedCause,
      int expectedDepth,
      boolean secondSignal,
      String expectation) {}

  /** The tasks of one round and what their events said (receipt times: System.nanoTime). */
  private static final class Round {
    final Set<String> ids;
    final Map<String, Long> runningAt = new ConcurrentHashMap<>();
    final Map<String, TaskEvent> outcome = new ConcurrentHashMap<>();
    final Map<String, Long> outcomeAt = new ConcurrentHashMap<>();
    final List<String> extra = new CopyOnWriteArrayList<>();
    final CountDownLatch allRunning;
    final CountDownLatch allOutcomes;

    Round(List<String> ids) {
      this.ids = Set.copyOf(ids);
      this.allRunning = new CountDownLatch(ids.size());
      this.allOutcomes = new CountDownLatch(ids.size());
    }

    long lastOutcomeAt() {
      return outcomeAt.values().stream().mapToLong(Long::longValue).max().orElse(0);
    }
  }

  private void onEvent(Event event) {
    long now = System.nanoTime();
    if (event instanceof Event.Worker w) {
      WorkerEvent e = w.event();
      if (WorkerEvent.STARTED.equals(e.state()) && e.pid() != null) {
        startedAt.putIfAbsent(e.pid(), now);
      }
      return;
    }
    Round r = current;
    if (r == null || !(event instanceof Event.Task t) || !r.ids.contains(t.event().task())) {
      return;
    }
    TaskEvent e = t.event();
    if (e.state() == TaskState.RUNNING) {
      if (r.runningAt.putIfAbsent(e.task(), now) == null) {
        r.allRunning.countDown();
      } else {
        r.extra.add(e.task() + " running again");
      }
    } else if (r.outcome.putIfAbsent(e.task(), e) == null) {
      r.outcomeAt.put(e.task(), now);
      r.allOutcomes.countDown();
    } else {
      r.extra.add(e.task() + " " + e.state().wire() + "/" + e.cause());
    }
  }

  /** A thread blocked in waitFor: the exit is stamped the moment the process has been reaped. */
  private static final class ExitWatch {
    final CountDownLatch done = new CountDownLatch(1);
    volatile long at;

    ExitWatch(Process process) {
      Thread t =
          new Thread(
              () -> {
                try {
                  process.waitFor();
                  at = System.nanoTime();
                  done.countDown();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              },
              "bench-exit-" + process.pid());
      t.setDaemon(true);
      t.start();
    }

    boolean await(long millis) throws InterruptedException {
      return done.await(millis, TimeUnit.MILLISECONDS);
    }
  }

  /** What one round measured and found amiss. */
  private static final class Result {
    Double toExitMs;
    Double secondToExitMs;
    Double toLastOutcomeMs;
    Double lastOutcomeToExitMs;
    Integer exitCode;
    Long depth;
    final List<String> problems = new ArrayList<>();
  }

  @SuppressWarnings("try") // the subscription only has to stay open while events arrive
  @Override
  public Integer call() throws Exception {
    Report report = new Report("shutdown");
    try (Harness h = Harness.open(common.uri, "shutdown")) {
      report.put("broker", h.brokerVersion());
      report.put("rounds", rounds);
      report.text(
          "Conveyor worker shutdown (bin/worker, SIGTERM -> exit) — %s", Report.Machine.line());
      report.text(
          "broker: RabbitMQ %s; %d rounds per case; exit timed by a thread in Process.waitFor",
          h.brokerVersion(), rounds);
      Optional<WorkerLauncher> launcher = WorkerLauncher.find(repo);
      if (launcher.isEmpty()) {
        report.text(
            "skipped: no executable %s/bin/worker or no worker/target/worker*-all.jar; run 'mvn"
                + " -DskipTests package' first",
            repo.toAbsolutePath().normalize());
        report.put("skipped", "no bin/worker or worker jar");
      } else {
        WorkerLauncher copy = launcher.get().snapshot();
        report.text(
            "worker jar: a copy of %s (modified %s), %s",
            copy.jar().getFileName(), Files.getLastModifiedTime(copy.jar()), Runtime.version());
        report.put("workerJarModified", Files.getLastModifiedTime(copy.jar()).toString());
        try (EventSubscription sub =
            EventSubscription.open(
                h.connection(), h.topology(), List.of("task.*", "worker.*"), this::onEvent)) {
          for (Case c : cases()) {
            runCase(h, report, copy, c);
          }
        } finally {
          current = null;
          copy.deleteSnapshot();
        }
      }
    }
    report.print(System.out, common.json);
    return 0;
  }

  private List<Case> cases() {
    return List.of(
        new Case(
            "idle",
            "(a) idle worker (SIGTERM 500 ms after worker.started)",
            List.of(),
            null,
            0,
            null,
            null,
            0,
            false,
            "exit code 0"),
        new Case(
            "finishing",
            "(b) --concurrency 4 --shutdown-grace 30s, 4 x sleep 2 s (SIGTERM once all 4 run)",
            List.of("--concurrency", "4", "--shutdown-grace", "30s"),
            SLEEP_2S,
            4,
            TaskState.SUCCEEDED,
            null,
            0,
            false,
            "exit ≈ when the tasks end; exit code 0, 4 succeeded, queue empty"),
        new Case(
            "requeued",
            "(c) --concurrency 4 --shutdown-grace 1s --kill-grace 1s, 4 x sleep 60 s",
            List.of("--concurrency", "4", "--shutdown-grace", "1s", "--kill-grace", "1s"),
            SLEEP_60S,
            4,
            TaskState.REQUEUED,
            Cause.SHUTDOWN,
            4,
            false,
            "exit ≈ 1 s grace + stop; exit code 0, 4 requeued (shutdown), 4 back in the queue"),
        new Case(
            "secondSignal",
            "(d) --concurrency 4 --shutdown-grace 30s, 4 x sleep 60 s, second SIGTERM after "
                + secondSignalMs
                + " ms",
            List.of("--concurrency", "4", "--shutdown-grace", "30s"),
            SLEEP_60S,
            4,
            TaskState.REQUEUED,
            Cause.SHUTDOWN,
            4,
            true,
            "exit well under the 30 s grace; exit code 0, 4 requeued (shutdown), 4 back in the"
                + " queue"));
  }

  private void runCase(Harness h, Report report, WorkerLauncher launcher, Case c) throws Exception {
    progress("case %s: %d rounds", c.key(), rounds);
    List<Result> results = new ArrayList<>();
    for (int i = 1; i <= rounds; i++) {
      results.add(round(h, launcher, c, i));
    }
    List<Double> toExit = values(results, r -> r.toExitMs);
    Stats s = new Stats(toExit);
    List<Integer> codes = results.stream().map(r -> r.exitCode).toList();
    report.text("");
    report.text("%s:", c.title());
    report.text("  SIGTERM -> exit:              %s", brief(s, toExit));
    if (c.secondSignal()) {
      List<Double> v = values(results, r -> r.secondToExitMs);
      report.text("  second SIGTERM -> exit:       %s", brief(new Stats(v), v));
    }
    if (c.tasks() > 0) {
      List<Double> v = values(results, r -> r.toLastOutcomeMs);
      report.text(
          "  SIGTERM -> last task.%s received: %s",
          c.expectedState().wire(), brief(new Stats(v), v));
      List<Double> w = values(results, r -> r.lastOutcomeToExitMs);
      report.text(
          "  last task.%s received -> exit: %s", c.expectedState().wire(), brief(new Stats(w), w));
    }
    report.text(
        "  exit codes: %s",
        codes.stream()
            .map(x -> x == null ? "none" : x.toString())
            .collect(Collectors.joining(" ")));
    if (c.tasks() > 0) {
      report.text(
          "  queue depth after exit: %s",
          results.stream()
              .map(r -> r.depth == null ? "?" : r.depth.toString())
              .collect(Collectors.joining(" ")));
    }
    List<String> problems = new ArrayList<>();
    for (int i = 0; i < results.size(); i++) {
      for (String p : results.get(i).problems) {
        problems.add("round " + (i + 1) + ": " + p);
      }
    }
    if (problems.isEmpty()) {
      report.text("  expectations met in every round (%s)", c.expectation());
    } else {
      report.text("  EXPECTATION NOT MET (%s) in %d case(s):", c.expectation(), problems.size());
      problems.forEach(p -> report.text("    %s", p));
    }
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("args", c.args());
    j.put("task", c.task());
    j.put("tasks", c.tasks());
    j.put("toExitMs", s.summary());
    j.put("toExitRunsMs", toExit.stream().map(Stats::round1).toList());
    if (c.secondSignal()) {
      j.put("secondSignalMs", secondSignalMs);
      j.put("secondToExitMs", new Stats(values(results, r -> r.secondToExitMs)).summary());
    }
    if (c.tasks() > 0) {
      j.put("toLastOutcomeMs", new Stats(values(results, r -> r.toLastOutcomeMs)).summary());
      j.put(
          "lastOutcomeToExitMs", new Stats(values(results, r -> r.lastOutcomeToExitMs)).summary());
      j.put("queueDepthAfterExit", results.stream().map(r -> r.depth).toList());
    }
    j.put("exitCodes", codes);
    j.put("problems", problems);
    report.put(c.key(), j);
  }

  private Result round(Harness h, WorkerLauncher launcher, Case c, int i) throws Exception {
    Result res = new Result();
    long ready = h.depth();
    if (ready != 0) {
      progress("queue not empty before a round (%d ready): purging", ready);
      h.purge();
    }
    List<String> ids = IntStream.range(0, c.tasks()).mapToObj(x -> Ids.newId()).toList();
    Round r = new Round(ids);
    current = r;
    if (!ids.isEmpty()) {
      h.publishTasks(ids, c.task());
    }
    List<String> args = new ArrayList<>(List.of("--name", "bench-shutdown-" + c.key() + "-" + i));
    args.addAll(c.args());
    WorkerLauncher.Running p = launcher.start(h, args.toArray(String[]::new));
    ExitWatch exit = new ExitWatch(p.process());
    boolean keepLog = false;
    try {
      String notReady = awaitReady(p, exit, r, c);
      if (notReady != null) {
        res.problems.add(notReady);
        progress("%s round %d: %s; log:%n%s", c.key(), i, notReady, p.logTail());
        keepLog = true;
        return res;
      }
      long sent = System.nanoTime();
      p.process().destroy(); // SIGTERM
      long second = 0;
      if (c.secondSignal()) {
        long at = sent + TimeUnit.MILLISECONDS.toNanos(secondSignalMs);
        while (System.nanoTime() < at && exit.done.getCount() > 0) {
          LockSupport.parkNanos(at - System.nanoTime());
        }
        if (exit.done.getCount() > 0) {
          second = System.nanoTime();
          p.process().destroy(); // the second SIGTERM
        } else {
          res.problems.add("exited before the second SIGTERM");
        }
      }
      if (!exit.await(TimeUnit.SECONDS.toMillis(exitTimeout))) {
        res.problems.add("still running " + exitTimeout + " s after SIGTERM: killed");
        progress(
            "%s round %d: no exit %d s after SIGTERM; log:%n%s",
            c.key(), i, exitTimeout, p.logTail());
        keepLog = true;
        return res;
      }
      res.toExitMs = Stats.millis(exit.at - sent);
      if (second != 0) {
        res.secondToExitMs = Stats.millis(exit.at - second);
      }
      res.exitCode = p.process().exitValue();
      if (res.exitCode != 0) {
        res.problems.add("exit code " + res.exitCode);
        keepLog = true;
      }
      if (c.tasks() > 0) {
        checkTasks(h, c, r, sent, exit.at, res);
      }
      progress(
          "%s round %d: SIGTERM -> exit %.1f ms, exit code %d%s",
          c.key(),
          i,
          res.toExitMs,
          res.exitCode,
          res.problems.isEmpty() ? "" : "; " + String.join("; ", res.problems));
      if (!res.problems.isEmpty()) {
        keepLog = true;
      }
      return res;
    } finally {
      current = null;
      if (keepLog) {
        progress("worker log (%s round %d):%n%s", c.key(), i, p.logTail());
      }
      int code = p.reap();
      if (res.exitCode == null) {
        progress("%s round %d: worker process %d reaped, exit code %d", c.key(), i, p.pid(), code);
      }
      if (c.tasks() > 0) {
        h.purge();
      }
    }
  }

  /** Null once the worker is ready for the signal, else what went wrong. */
  private String awaitReady(WorkerLauncher.Running p, ExitWatch exit, Round r, Case c)
      throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(startTimeout);
    while (!startedAt.containsKey(p.pid())) {
      if (exit.done.getCount() == 0) {
        return "exited with " + p.process().exitValue() + " before worker.started";
      }
      if (System.nanoTime() > end) {
        return "no worker.started within " + startTimeout + " s";
      }
      Thread.sleep(1);
    }
    if (c.tasks() == 0) {
      // The idle worker: give it time to settle after it has announced itself.
      Thread.sleep(500);
      return exit.done.getCount() == 0 ? "exited by itself after worker.started" : null;
    }
    while (!r.allRunning.await(1, TimeUnit.MILLISECONDS)) {
      if (exit.done.getCount() == 0) {
        return "exited with "
            + p.process().exitValue()
            + " with "
            + r.runningAt.size()
            + " of "
            + c.tasks()
            + " tasks running";
      }
      if (System.nanoTime() > end) {
        return "only "
            + r.runningAt.size()
            + " of "
            + c.tasks()
            + " tasks running within "
            + startTimeout
            + " s";
      }
    }
    return null;
  }

  /** The tasks' outcomes (events may arrive just after the exit) and the queue depth. */
  private void checkTasks(Harness h, Case c, Round r, long sent, long exitAt, Result res)
      throws Exception {
    if (!r.allOutcomes.await(5, TimeUnit.SECONDS)) {
      res.problems.add(
          "only "
              + r.outcome.size()
              + " of "
              + c.tasks()
              + " tasks had an outcome event 5 s after exit");
    }
    int wrong = 0;
    for (String id : r.ids) {
      TaskEvent e = r.outcome.get(id);
      if (e == null) {
        continue;
      }
      if (e.state() != c.expectedState()
          || (c.expectedCause() != null && e.cause() != c.expectedCause())) {
        wrong++;
        res.problems.add(
            "task "
                + id
                + " ended "
                + e.state().wire()
                + " (cause "
                + e.cause()
                + ", "
                + e.reason()
                + "), expected "
                + c.expectedState().wire()
                + (c.expectedCause() == null ? "" : " (cause " + c.expectedCause().wire() + ")"));
      }
    }
    if (!r.extra.isEmpty()) {
      res.problems.add("further events: " + String.join(", ", r.extra));
    }
    if (r.outcome.size() == c.tasks() && wrong == 0) {
      long last = r.lastOutcomeAt();
      res.toLastOutcomeMs = Stats.millis(last - sent);
      res.lastOutcomeToExitMs = Stats.millis(exitAt - last);
    }
    // The requeued copies are published with confirms before the worker closes; give the
    // queue's count a moment anyway.
    long depth = h.depth();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    while (depth != c.expectedDepth() && System.nanoTime() < until) {
      Thread.sleep(20);
      depth = h.depth();
    }
    res.depth = depth;
    if (depth != c.expectedDepth()) {
      res.problems.add(
          "queue holds " + depth + " messages after exit, expected " + c.expectedDepth());
    }
  }

  private static List<Double> values(
      List<Result> results, java.util.function.Function<Result, Double> f) {
    return results.stream().map(f).filter(v -> v != null).toList();
  }

  /** "p50 … ms max … ms (min …, n=5; runs …)": p90/p99 mean nothing for five samples. */
  private static String brief(Stats s, List<Double> runs) {
    if (s.count() == 0) {
      return "no samples";
    }
    return String.format(
        "p50 %.1f ms  max %.1f ms  (min %.1f, n=%d; runs %s)",
        s.percentile(50),
        s.max(),
        s.min(),
        s.count(),
        runs.stream().map(v -> String.format("%.1f", v)).collect(Collectors.joining(" ")));
  }
}
