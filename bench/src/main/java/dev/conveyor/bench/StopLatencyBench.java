package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.Worker;
import dev.conveyor.worker.WorkerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * How long {@code stop --all} and {@code kill --all} take to end every running task: from just
 * before the control message is published to the receipt of the last {@code task.cancelled}, with 4
 * in-process workers × concurrency 4 = 16 running tasks. {@link CliStopBench} measures the same
 * from the command line: {@code bin/worker} processes, and the command sent by {@code bin/control}.
 */
@CommandLine.Command(
    name = "stop-latency",
    mixinStandardHelpOptions = true,
    description = {
      "stop --all of 16 cooperative sleep tasks and kill --all of 16 exec tasks (a direct child,"
          + " then a process tree) on 4 workers x 4: publish -> last task.cancelled received."
    })
public class StopLatencyBench implements Callable<Integer> {

  static final String SLEEP =
      "{\"type\":\"sleep\",\"payload\":{\"seconds\":60,\"checkEveryMs\":10}}";
  static final List<String> SLEEP_COMMAND = List.of("/bin/sleep", "600");
  static final List<String> TREE_COMMAND =
      List.of("/bin/sh", "-c", "/bin/sleep 600 & /bin/sleep 600; wait");
  static final String EXEC_SLEEP = exec(SLEEP_COMMAND);
  static final String EXEC_TREE = exec(TREE_COMMAND);

  private static String exec(List<String> command) {
    return "{\"type\":\"exec\",\"payload\":{\"command\":"
        + command.stream().map(c -> "\"" + c + "\"").collect(Collectors.joining(",", "[", "]"))
        + "}}";
  }

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--rounds",
      defaultValue = "50",
      description = "Rounds of stop --all (cooperative) (default: ${DEFAULT-VALUE}).")
  int stopRounds;

  @Option(
      names = "--warmup",
      defaultValue = "20",
      description =
          "Rounds run first in every phase and not counted (their figures are reported apart):"
              + " the first stop or kill a worker applies runs cold code, and for the next rounds"
              + " the JIT compilers take CPU from the tasks (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(
      names = "--kill-rounds",
      defaultValue = "50",
      description = "Rounds of kill --all of exec /bin/sleep (default: ${DEFAULT-VALUE}).")
  int killRounds;

  @Option(
      names = "--tree-rounds",
      defaultValue = "50",
      description =
          "Rounds of kill --all of exec sh -c 'sleep & sleep; wait'; 0 = skip"
              + " (default: ${DEFAULT-VALUE}).")
  int treeRounds;

  @Option(
      names = "--workers",
      defaultValue = "4",
      description = "In-process workers (default: ${DEFAULT-VALUE}).")
  int workers;

  @Option(
      names = "--concurrency",
      defaultValue = "4",
      description = "Concurrency of each worker (default: ${DEFAULT-VALUE}).")
  int concurrency;

  @Option(
      names = "--settle-ms",
      defaultValue = "100",
      description =
          "Pause once every task runs (and every child process exists) before the"
              + " command is sent (default: ${DEFAULT-VALUE}).")
  int settleMs;

  @Option(
      names = "--round-timeout",
      defaultValue = "30",
      description =
          "Seconds a round may take before the phase is abandoned (default: ${DEFAULT-VALUE}).")
  int roundTimeout;

  @Option(
      names = "--repo",
      defaultValue = "${sys:conveyor.repo:-.}",
      description =
          "The repository, for bin/worker and bin/control (cli-stop) (default: bench/run's).")
  Path repo;

  /**
   * From the command line: the workers are bin/worker processes and each command is a bin/control
   * process, timed from just before it is spawned.
   */
  final boolean cli;

  private final String issuedBy = "bench@" + WorkerConfig.host();
  private final AtomicInteger workersStarted = new AtomicInteger();
  private volatile Round current;
  private WorkerLauncher control;
  private Set<Long> baseline = Set.of();

  /** bin/worker processes, one per worker, with the in-process workers' settings. */
  private void startProcesses(Harness h, WorkerLauncher launcher, List<AutoCloseable> started)
      throws Exception {
    for (int i = 1; i <= workers; i++) {
      WorkerLauncher.Running p =
          launcher.start(
              h,
              "--name",
              "bench-clistop-w" + i,
              "--concurrency",
              Integer.toString(concurrency),
              "--shutdown-grace",
              "1s",
              "--kill-grace",
              "10s",
              "--exec-allow",
              "/bin/sleep,/bin/sh");
      started.add(p::stop);
    }
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (workersStarted.get() < workers) {
      if (System.nanoTime() > end) {
        throw new IllegalStateException("not every worker process sent worker.started in 60 s");
      }
      Harness.sleep(5);
    }
    baseline =
        ProcessHandle.current().descendants().map(ProcessHandle::pid).collect(Collectors.toSet());
  }

  public StopLatencyBench() {
    this(false);
  }

  StopLatencyBench(boolean cli) {
    this.cli = cli;
  }

  /** The tasks of one round and what their events said. */
  private static final class Round {
    final Set<String> ids;
    final Set<String> running = ConcurrentHashMap.newKeySet();
    final Set<String> cancelled = ConcurrentHashMap.newKeySet();
    final Queue<byte[]> cancelledBodies = new ConcurrentLinkedQueue<>();
    final AtomicInteger cancelledCount = new AtomicInteger();
    final CountDownLatch allRunning;
    final CountDownLatch allCancelled;
    final AtomicInteger wrongCause = new AtomicInteger();
    final AtomicInteger unexpected = new AtomicInteger();
    final Cause expectedCause;
    volatile long firstCancelled;
    volatile long lastCancelled;

    Round(List<String> ids, Cause expectedCause) {
      this.ids = Set.copyOf(ids);
      this.allRunning = new CountDownLatch(ids.size());
      this.allCancelled = new CountDownLatch(ids.size());
      this.expectedCause = expectedCause;
    }
  }

  /**
   * Timed on receipt. The {@code task.cancelled} events of a round are counted by routing key and
   * decoded only after the round ({@link #verifyCancelled}): the measuring tool's JSON work would
   * otherwise take CPU from the workers it measures, and delay the events queued behind it.
   */
  private void onEvent(String routingKey, byte[] body) {
    long now = System.nanoTime();
    if (routingKey.equals("worker.started")) {
      workersStarted.addAndGet(Wire.countEvents(body));
      return;
    }
    Round r = current;
    if (r != null && routingKey.equals("task." + TaskState.CANCELLED.wire())) {
      int k = Wire.countEvents(body);
      int n = r.cancelledCount.addAndGet(k);
      r.cancelledBodies.add(body);
      if (n == k) {
        r.firstCancelled = now;
      }
      for (int i = Math.max(n - k + 1, 1); i <= Math.min(n, r.ids.size()); i++) {
        r.lastCancelled = now;
        r.allCancelled.countDown();
      }
      return;
    }
    for (byte[] one : Drains.elements(body)) {
      onTaskEvent(r, routingKey, one);
    }
  }

  private void onTaskEvent(Round r, String routingKey, byte[] body) {
    Event event;
    try {
      event = EventSubscription.decode(routingKey, body);
    } catch (MalformedMessageException e) {
      progress("undecodable event %s: %s", routingKey, e.getMessage());
      return;
    }
    if (r == null || !(event instanceof Event.Task t) || !r.ids.contains(t.event().task())) {
      return;
    }
    TaskEvent e = t.event();
    if (e.state() == TaskState.RUNNING) {
      if (r.running.add(e.task())) {
        r.allRunning.countDown();
      }
    } else {
      r.unexpected.incrementAndGet();
      progress(
          "unexpected event for %s: %s %s %s", e.task(), e.state().wire(), e.cause(), e.reason());
    }
  }

  /**
   * Decodes the round's {@code task.cancelled} events once they are all in: each must name a task
   * of the round, once, with the expected cause.
   */
  private static void verifyCancelled(Round r) {
    for (byte[] body :
        r.cancelledBodies.stream().flatMap(b -> Drains.elements(b).stream()).toList()) {
      TaskEvent e;
      try {
        e = Wire.decode(body, TaskEvent.class);
      } catch (MalformedMessageException ex) {
        r.unexpected.incrementAndGet();
        progress("undecodable task.cancelled event: %s", ex.getMessage());
        continue;
      }
      if (!r.ids.contains(e.task()) || !r.cancelled.add(e.task())) {
        r.unexpected.incrementAndGet();
        progress("task.cancelled for %s, not a task of this round or a second time", e.task());
      } else if (e.cause() != r.expectedCause) {
        r.wrongCause.incrementAndGet();
      }
    }
  }

  /**
   * A variant: what to run, what to send, and how many child processes to wait for.
   *
   * @param floor the same processes killed without Conveyor, for an exec task; null for others
   */
  private record Variant(
      String key,
      String title,
      String task,
      KillFloor floor,
      Command command,
      Cause cause,
      int sleepsPerTask,
      double target) {}

  @SuppressWarnings("try") // the subscription only has to stay open while events arrive
  @Override
  public Integer call() throws Exception {
    Report report = new Report(cli ? "cli-stop" : "stop-latency");
    List<AutoCloseable> started = new ArrayList<>();
    Optional<WorkerLauncher> workerCli = cli ? WorkerLauncher.find(repo) : Optional.empty();
    control = cli ? WorkerLauncher.find(repo, "control").orElse(null) : null;
    if (cli && (workerCli.isEmpty() || control == null)) {
      System.err.println(
          "cli-stop: no bin/worker, bin/control or their jars in " + repo + " (mvn package)");
      return 2;
    }
    try (Harness h = Harness.open(common.uri, cli ? "clistop" : "stop")) {
      try (EventSubscription sub =
          EventSubscription.openRaw(
              h.connection(), h.topology(), List.of("task.*", "worker.started"), this::onEvent)) {
        run(h, report, started, workerCli);
      } finally {
        // Before the namespace is deleted under them.
        started.parallelStream()
            .forEach(
                w -> {
                  try {
                    w.close();
                  } catch (Exception e) {
                    progress("stopping a worker: %s", e);
                  }
                });
      }
    }
    report.print(System.out, common.json);
    return 0;
  }

  private void run(
      Harness h, Report report, List<AutoCloseable> started, Optional<WorkerLauncher> workerCli)
      throws Exception {
    report.put("broker", h.brokerVersion());
    report.put("workers", workers);
    report.put("concurrency", concurrency);
    report.text("Conveyor stop/kill latency — %s", Report.Machine.line());
    report.text(
        "broker: RabbitMQ %s; %d %s x concurrency %d = %d running tasks per round; %s -> receipt"
            + " of the last task.cancelled; %d warm-up rounds per phase not counted",
        h.brokerVersion(),
        workers,
        cli ? "bin/worker processes" : "in-process workers",
        concurrency,
        workers * concurrency,
        cli ? "launch of bin/control stop|kill --all" : "publish of the command",
        warmup);
    report.put("warmupRounds", warmup);
    report.put("cli", cli);
    if (cli) {
      startProcesses(h, workerCli.get(), started);
    }
    for (int i = 1; i <= workers && !cli; i++) {
      started.add(
          Worker.start(
              h.workerConfig("bench-stop-w" + i)
                  .withConcurrency(concurrency)
                  .withShutdownGrace(Duration.ofSeconds(1))
                  // Above the exec handler's 5 s wait for a killed tree to be reaped, so that a
                  // slow init cannot make a worker give itself up mid-benchmark.
                  .withKillGrace(Duration.ofSeconds(10))
                  .withExecAllow(List.of(Path.of("/bin/sleep"), Path.of("/bin/sh")))));
    }
    progress("%d workers started", workers);
    List<Variant> variants =
        List.of(
            new Variant(
                "stop",
                "stop --all, sleep checking its token every 10 ms",
                SLEEP,
                null,
                Command.STOP,
                Cause.USER_STOP,
                0,
                25),
            new Variant(
                "killExec",
                "kill --all, exec /bin/sleep 600 (direct child)",
                EXEC_SLEEP,
                new KillFloor(SLEEP_COMMAND, 1),
                Command.KILL,
                Cause.USER_KILL,
                1,
                20),
            new Variant(
                "killTree",
                "kill --all, exec sh -c '/bin/sleep 600 & /bin/sleep 600; wait' (tree)",
                EXEC_TREE,
                new KillFloor(TREE_COMMAND, 2),
                Command.KILL,
                Cause.USER_KILL,
                2,
                20));
    int[] rounds = {stopRounds, killRounds, treeRounds};
    for (int v = 0; v < variants.size(); v++) {
      if (rounds[v] > 0) {
        phase(h, report, variants.get(v), rounds[v]);
      }
    }
  }

  private void phase(Harness h, Report report, Variant v, int rounds) throws Exception {
    int tasks = workers * concurrency;
    List<Double> toLast = new ArrayList<>();
    List<Double> toFirst = new ArrayList<>();
    List<Double> warmupToLast = new ArrayList<>();
    int wrongCause = 0;
    int unexpected = 0;
    int leftover = 0;
    List<Double> cliExit = new ArrayList<>();
    int cliFailures = 0;
    Conditions.Meter meter = Conditions.start();
    String abandoned = null;
    progress("phase %s: %d warm-up rounds, then %d counted rounds", v.key(), warmup, rounds);
    for (int i = 1 - warmup; i <= rounds; i++) {
      List<String> ids = IntStream.range(0, tasks).mapToObj(x -> Ids.newId()).toList();
      Round r = new Round(ids, v.cause());
      current = r;
      h.publishTasks(ids, v.task());
      if (!r.allRunning.await(roundTimeout, TimeUnit.SECONDS)) {
        abandoned = "round " + i + ": only " + r.running.size() + " of " + tasks + " running";
        break;
      }
      List<ProcessHandle> children = List.of();
      if (v.sleepsPerTask() > 0) {
        // The workers' children: every descendant of this JVM but the worker processes.
        children =
            awaitSleeps(
                () ->
                    ProcessHandle.current().descendants().filter(p -> !baseline.contains(p.pid())),
                tasks * v.sleepsPerTask(),
                roundTimeout);
        if (children == null) {
          abandoned = "round " + i + ": the child processes did not all start";
          break;
        }
      }
      Harness.sleep(settleMs);
      long sent;
      WorkerLauncher.Running controlProcess = null;
      if (cli) {
        sent = System.nanoTime();
        controlProcess = control.start(h, v.command().wire(), "--all");
      } else {
        ControlMessage command =
            new ControlMessage(
                Ids.newId(), v.command(), Target.all(), false, Instant.now(), issuedBy);
        sent = h.publishControl(command);
      }
      boolean allCancelled = r.allCancelled.await(roundTimeout, TimeUnit.SECONDS);
      if (controlProcess != null) {
        int code = controlProcess.awaitExit(roundTimeout);
        cliExit.add(Stats.millis(System.nanoTime() - sent));
        if (code != 0) {
          cliFailures++;
          progress("bin/control %s --all exited with %d", v.command().wire(), code);
        }
      }
      if (!allCancelled) {
        abandoned =
            "round " + i + ": only " + r.cancelledCount.get() + " of " + tasks + " cancelled";
        break;
      }
      verifyCancelled(r);
      double last = Stats.millis(r.lastCancelled - sent);
      if (i >= 1) {
        toLast.add(last);
        toFirst.add(Stats.millis(r.firstCancelled - sent));
      } else {
        warmupToLast.add(last);
      }
      wrongCause += r.wrongCause.get();
      unexpected += r.unexpected.get();
      // Every process of the tree should be gone (reaped) by the time the task is reported.
      int left =
          (int) children.stream().filter(p -> Files.exists(Path.of("/proc/" + p.pid()))).count();
      leftover += left;
      progress(
          "%s round %s: first cancelled after %.2f ms, last after %.2f ms%s",
          v.key(),
          i >= 1 ? Integer.toString(i) : "warm-up " + (i + warmup) + " (not counted)",
          Stats.millis(r.firstCancelled - sent),
          last,
          left > 0 ? ", " + left + " child processes still in /proc" : "");
    }
    current = null;
    if (abandoned != null) {
      progress("phase %s abandoned: %s", v.key(), abandoned);
      // Leave nothing running for the next phase.
      h.publishControl(
          new ControlMessage(
              Ids.newId(), Command.KILL, Target.all(), false, Instant.now(), issuedBy));
      Harness.sleep(6000);
      h.purge();
    }
    Stats s = new Stats(toLast);
    Stats f = new Stats(toFirst);
    Conditions conditions = meter.end();
    Stats floor = null;
    Conditions floorConditions = null;
    String floorFailure = null;
    if (v.floor() != null && !cli && abandoned == null) {
      progress("phase %s: the same processes killed by this JVM, %d rounds", v.key(), rounds);
      Conditions.Meter floorMeter = Conditions.start();
      try {
        floor = new Stats(v.floor().measure(tasks, warmup, rounds, settleMs, roundTimeout));
      } catch (IllegalStateException e) { // the phase's own figures still stand
        floorFailure = e.getMessage();
      }
      floorConditions = floorMeter.end();
    }
    report.text("");
    report.text("%s %s:", v.title(), conditions);
    report.text("  to last task.cancelled:  %s", s.line("ms"));
    report.text("  to first task.cancelled: %s", f.line("ms"));
    if (cli) {
      Stats e = new Stats(cliExit);
      report.text(
          "  bin/control launch -> awaited exit (all rounds, an upper bound): %s; %d non-zero exits",
          e.line("ms"), cliFailures);
    }
    if (floor != null) {
      report.text(
          "  baseline, the same %d processes killed and reaped by this JVM itself, no broker nor"
              + " worker (the host's floor) %s:",
          tasks, floorConditions);
      report.text("                           %s", floor.line("ms"));
    } else if (floorFailure != null) {
      report.text("  baseline (the host's floor) not measured: %s", floorFailure);
    }
    report.text(
        "  warm-up rounds, not counted, to last task.cancelled: %s ms",
        warmupToLast.stream()
            .map(x -> String.format(java.util.Locale.ROOT, "%.1f", x))
            .collect(java.util.stream.Collectors.joining(" ")));
    // From the command line the JVM start is part of what a user waits for.
    double targetP99 = cli ? 600 : v.target();
    double targetP50 = cli ? 400 : Double.NaN;
    boolean met = s.percentile(99) <= targetP99 && !(s.percentile(50) > targetP50);
    report.text(
        "  target %sp99 <= %.0f ms: %s",
        cli ? "p50 <= 400 ms, " : "", targetP99, met ? "met" : "MISSED");
    if (wrongCause + unexpected + leftover > 0 || abandoned != null) {
      report.text(
          "  anomalies: %d wrong causes, %d unexpected events, %d child processes left in /proc%s",
          wrongCause, unexpected, leftover, abandoned == null ? "" : "; abandoned at " + abandoned);
    }
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("tasksPerRound", tasks);
    j.put("toLastCancelledMs", s.summary());
    j.put("toFirstCancelledMs", f.summary());
    j.put("warmupToLastCancelledMs", warmupToLast.stream().map(Stats::round1).toList());
    j.put("targetP99Ms", targetP99);
    if (cli) {
      j.put("targetP50Ms", targetP50);
      j.put("controlLaunchToExitMs", new Stats(cliExit).summary());
      j.put("controlNonZeroExits", cliFailures);
    }
    j.put("conditions", conditions.json());
    if (floor != null) {
      j.put("floorMs", floor.summary());
      j.put("floorConditions", floorConditions.json());
    } else if (floorFailure != null) {
      j.put("floorFailure", floorFailure);
    }
    j.put("met", met);
    j.put("wrongCause", wrongCause);
    j.put("unexpectedEvents", unexpected);
    j.put("childProcessesLeft", leftover);
    if (abandoned != null) {
      j.put("abandoned", abandoned);
    }
    report.put(v.key(), j);
  }

  /**
   * Waits until {@code count} of the candidates run {@code sleep 600}, and returns every candidate
   * then (the sleeps with their parents); null on timeout.
   */
  static List<ProcessHandle> awaitSleeps(
      Supplier<Stream<ProcessHandle>> candidates, int count, int timeoutSeconds) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    while (System.nanoTime() < end) {
      List<ProcessHandle> all = candidates.get().toList();
      long sleeps = all.stream().filter(StopLatencyBench::isSleep600).count();
      if (sleeps >= count) {
        return all;
      }
      Harness.sleep(2);
    }
    return null;
  }

  static boolean isSleep600(ProcessHandle p) {
    ProcessHandle.Info info = p.info();
    return info.command().map(c -> c.endsWith("sleep")).orElse(false)
        && info.arguments().map(a -> a.length == 1 && a[0].equals("600")).orElse(false);
  }
}
