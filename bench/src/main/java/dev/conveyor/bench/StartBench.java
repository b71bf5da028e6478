package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.worker.Worker;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * How long a worker takes to start — {@code Worker.start} in a warm JVM, and {@code bin/worker}
 * launched as a process — until it runs a task already queued, and how much memory an idle {@code
 * bin/worker} holds next to a bare amqp-client consumer JVM.
 */
@Command(
    name = "start",
    mixinStandardHelpOptions = true,
    description = {
      "Worker start latency (in-process Worker.start, and bin/worker launch -> worker.started and"
          + " -> first task.running) and the idle RSS of bin/worker vs a bare amqp-client consumer"
          + " JVM."
    })
public final class StartBench implements Callable<Integer> {

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--concurrency",
      defaultValue = "4",
      description =
          "Worker concurrency = idle raw consumer's prefetch (default: ${DEFAULT-VALUE}).")
  int concurrency;

  @Option(
      names = "--start-rounds",
      defaultValue = "5",
      description = "In-process worker starts measured (default: ${DEFAULT-VALUE}).")
  int startRounds;

  @Option(
      names = "--process-rounds",
      defaultValue = "3",
      description = "bin/worker process starts measured; 0 = skip (default: ${DEFAULT-VALUE}).")
  int processRounds;

  @Option(
      names = "--idle-seconds",
      defaultValue = "5",
      description =
          "How long the processes idle before VmRSS is read; 0 = skip the memory"
              + " figures (default: ${DEFAULT-VALUE}).")
  int idleSeconds;

  @Option(
      names = "--log-entries",
      defaultValue = "0",
      description =
          "Also launch bin/worker against a control log holding N markers more, as N starts of"
              + " a worker without checkpoints leave it (the first launch reads them all); those"
              + " rounds alternate with the plain ones (default: ${DEFAULT-VALUE}, off).")
  int logEntries;

  @Option(
      names = "--log-stop",
      description =
          "With --log-entries: the filled log starts with a stop for a queued task, which every"
              + " worker honours for 25 hours, ahead of the markers.")
  boolean logStop;

  @Option(
      names = "--repo",
      defaultValue = "${sys:conveyor.repo:-.}",
      description =
          "The repository, for bin/worker and worker/target/worker*-all.jar"
              + " (default: the one bench/run belongs to).")
  Path repo;

  /** Receipt times of task.running by task id, and of worker.started by worker pid. */
  private final Map<String, Long> runningAt = new ConcurrentHashMap<>();

  private final Map<Long, Long> workerStartedAt = new ConcurrentHashMap<>();

  @Override
  public Integer call() throws Exception {
    if (logStop && logEntries <= 0) {
      System.err.println("start: --log-stop needs --log-entries N");
      return 2;
    }
    Report report = new Report("start");
    try (Harness h = Harness.open(common.uri, "start")) {
      report.put("broker", h.brokerVersion());
      report.text("Conveyor start latency and idle memory — %s", Report.Machine.line());
      report.text("broker: RabbitMQ %s on %s", h.brokerVersion(), h.settings().describe());
      startLatencyInProcess(h, report);
      Optional<WorkerLauncher> launcher = WorkerLauncher.find(repo);
      if (launcher.isEmpty()) {
        report.text(
            "process start and idle memory: skipped (no executable %s/bin/worker or no"
                + " worker/target/worker*-all.jar; run 'mvn -DskipTests package' first)",
            repo.toAbsolutePath().normalize());
        report.put("process", "skipped: no bin/worker or worker jar");
      } else {
        if (processRounds > 0 && logEntries > 0) {
          try (Harness filled = Harness.open(common.uri, "start-log")) {
            appendMarkers(filled, logEntries, logStop);
            startLatencyProcess(List.of(h, filled), report, launcher.get());
          }
        } else if (processRounds > 0) {
          startLatencyProcess(List.of(h), report, launcher.get());
        }
        if (idleSeconds > 0) {
          idleMemory(h, report, launcher.get());
        }
      }
    }
    report.print(System.out, common.json);
    return 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Start latency

  private void onStartEvent(Event event) {
    long now = System.nanoTime();
    switch (event) {
      case Event.Task t when t.event().state() == TaskState.RUNNING ->
          runningAt.putIfAbsent(t.event().task(), now);
      case Event.Worker w
          when WorkerEvent.STARTED.equals(w.event().state()) && w.event().pid() != null ->
          workerStartedAt.putIfAbsent(w.event().pid(), now);
      default -> {}
    }
  }

  private EventSubscription startEvents(Harness h) throws IOException {
    return EventSubscription.open(
        h.connection(),
        h.topology(),
        List.of("task.running", "worker.started"),
        this::onStartEvent);
  }

  private Long awaitRunning(String id, long timeoutMillis) {
    return awaitRunning(id, timeoutMillis, null);
  }

  /** Waits for the task's task.running; gives up early when {@code process} (if any) has ended. */
  private Long awaitRunning(String id, long timeoutMillis, Process process) {
    long end = System.nanoTime() + timeoutMillis * 1_000_000;
    while (System.nanoTime() < end && (process == null || process.isAlive())) {
      Long at = runningAt.get(id);
      if (at != null) {
        return at;
      }
      Harness.sleep(1);
    }
    return null;
  }

  /** Worker.start called with a task already queued → receipt of its task.running. */
  @SuppressWarnings("try") // the subscription only has to stay open while events arrive
  private void startLatencyInProcess(Harness h, Report report) throws Exception {
    List<Double> toReturn = new ArrayList<>();
    List<Double> toRunning = new ArrayList<>();
    Conditions.Meter meter = Conditions.start();
    try (EventSubscription sub = startEvents(h)) {
      for (int i = 1; i <= startRounds; i++) {
        String id = Ids.newId();
        h.publishTasks(List.of(id), Drains.NOOP);
        long t0 = System.nanoTime();
        Worker w = Worker.start(h.workerConfig("bench-start-" + i).withConcurrency(concurrency));
        long returned = System.nanoTime();
        Long running = awaitRunning(id, 30_000);
        w.close();
        if (running == null) {
          progress("in-process start %d: no task.running within 30 s", i);
          continue;
        }
        toReturn.add(Stats.millis(returned - t0));
        toRunning.add(Stats.millis(running - t0));
        progress(
            "in-process start %d: start() returned after %.1f ms, task.running received after %.1f ms",
            i, Stats.millis(returned - t0), Stats.millis(running - t0));
      }
    }
    Stats ret = new Stats(toReturn);
    Stats run = new Stats(toRunning);
    report.text("");
    report.text(
        "start latency, in-process (Worker.start in this already warm JVM; %d rounds) %s:",
        run.count(), meter.end());
    report.text(
        "  Worker.start -> returned:            median %.1f ms  min %.1f  max %.1f",
        ret.median(), ret.min(), ret.max());
    report.text(
        "  Worker.start -> first task.running:  median %.1f ms  min %.1f  max %.1f",
        run.median(), run.min(), run.max());
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("rounds", run.count());
    j.put("toReturnMs", toReturn.stream().map(Stats::round1).toList());
    j.put("toFirstRunningMs", toRunning.stream().map(Stats::round1).toList());
    j.put("medianToFirstRunningMs", Stats.round1(run.median()));
    report.put("startInProcess", j);
  }

  /**
   * Launches of bin/worker as an OS process with a task already queued → its task.running; one
   * round in each namespace in turn, so that their figures come from the same minutes.
   */
  private void startLatencyProcess(List<Harness> namespaces, Report report, WorkerLauncher launcher)
      throws Exception {
    List<List<Double>> toStarted = new ArrayList<>();
    List<List<Double>> toRunning = new ArrayList<>();
    List<EventSubscription> subs = new ArrayList<>();
    Conditions.Meter meter = Conditions.start();
    try {
      for (Harness h : namespaces) {
        subs.add(startEvents(h));
        toStarted.add(new ArrayList<>());
        toRunning.add(new ArrayList<>());
      }
      for (int i = 1; i <= processRounds; i++) {
        for (int n = 0; n < namespaces.size(); n++) {
          processRound(namespaces.get(n), launcher, i, toStarted.get(n), toRunning.get(n));
        }
      }
    } finally {
      subs.forEach(EventSubscription::close);
    }
    Conditions conditions = meter.end();
    for (int n = 0; n < namespaces.size(); n++) {
      Stats st = new Stats(toStarted.get(n));
      Stats run = new Stats(toRunning.get(n));
      report.text("");
      report.text(
          "start latency, OS process (bin/worker -> %s, %s; %d rounds%s) %s:",
          launcher.jar().getFileName(),
          Runtime.version(),
          run.count(),
          n == 0
              ? ""
              : "; the control log holding "
                  + (logStop ? "a stop still honoured, then " : "")
                  + logEntries
                  + " earlier starts' markers",
          conditions);
      report.text(
          "  launch -> worker.started received:   median %.1f ms  min %.1f  max %.1f",
          st.median(), st.min(), st.max());
      report.text(
          "  launch -> first task.running:        median %.1f ms  min %.1f  max %.1f",
          run.median(), run.min(), run.max());
      Map<String, Object> j = new LinkedHashMap<>();
      j.put("rounds", run.count());
      if (n > 0) {
        j.put("controlLogEntries", logEntries);
        j.put("controlLogStop", logStop);
      }
      j.put("toWorkerStartedMs", toStarted.get(n).stream().map(Stats::round1).toList());
      j.put("toFirstRunningMs", toRunning.get(n).stream().map(Stats::round1).toList());
      j.put("medianToFirstRunningMs", Stats.round1(run.median()));
      report.put(n == 0 ? "startProcess" : "startProcessLongLog", j);
    }
  }

  private void processRound(
      Harness h, WorkerLauncher launcher, int i, List<Double> toStarted, List<Double> toRunning)
      throws Exception {
    String id = Ids.newId();
    h.publishTasks(List.of(id), Drains.NOOP);
    long t0 = System.nanoTime();
    WorkerLauncher.Running p = launcher.start(h, "--name", "bench-proc-" + i);
    try {
      Long running = awaitRunning(id, 60_000, p.process());
      Long started = awaitStarted(p.process(), 10_000);
      if (running == null) {
        progress(
            "process start %d: no task.running within 60 s (process %s); log:%n%s",
            i,
            p.process().isAlive() ? "still running" : "exited " + p.process().exitValue(),
            p.logTail());
        return;
      }
      toRunning.add(Stats.millis(running - t0));
      if (started != null) {
        toStarted.add(Stats.millis(started - t0));
      }
      progress(
          "process start %d in %s: worker.started after %s ms, task.running after %.1f ms",
          i,
          h.names().namespace(),
          started == null ? "?" : String.format("%.1f", Stats.millis(started - t0)),
          Stats.millis(running - t0));
    } finally {
      int code = p.stop();
      progress("process %d ended with exit code %d", p.pid(), code);
    }
  }

  /**
   * Appends {@code count} markers to the namespace's control log, one confirmed publish each, as
   * that many worker starts without checkpoints would; with {@code stopFirst}, after a stop for a
   * queued task, published as {@code control stop --task} publishes it.
   */
  private static void appendMarkers(Harness h, int count, boolean stopFirst) throws Exception {
    long t0 = System.nanoTime();
    try (Channel ch = h.connection().createChannel()) {
      String log = h.topology().declareControlLog(ch);
      if (stopFirst) {
        h.publishControl(
            new ControlMessage(
                Ids.newId(),
                dev.conveyor.protocol.wire.Command.STOP,
                new Target.Tasks(List.of(Ids.newId())),
                false,
                Instant.now(),
                "conveyor-bench"));
      }
      ch.confirmSelect();
      for (int i = 0; i < count; i++) {
        AMQP.BasicProperties props =
            new AMQP.BasicProperties.Builder().headers(Map.of(Headers.MARKER, Ids.newId())).build();
        ch.basicPublish("", log, props, new byte[0]);
        ch.waitForConfirmsOrDie(10_000);
      }
    }
    progress(
        "%d markers appended to %s's control log in %.0f ms",
        count, h.names().namespace(), Stats.millis(System.nanoTime() - t0));
  }

  /** Waits for the process's worker.started; gives up early when the process has ended. */
  private Long awaitStarted(Process process, long timeoutMillis) {
    long end = System.nanoTime() + timeoutMillis * 1_000_000;
    while (System.nanoTime() < end && process.isAlive()) {
      Long at = workerStartedAt.get(process.pid());
      if (at != null) {
        return at;
      }
      Harness.sleep(1);
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // Idle memory

  @SuppressWarnings("try") // the subscription only has to stay open while events arrive
  private void idleMemory(Harness h, Report report, WorkerLauncher launcher) throws Exception {
    Map<String, Object> j = new LinkedHashMap<>();
    report.text("");
    report.text(
        "idle resident memory (VmRSS after %d s idle, default JVM flags, %s):",
        idleSeconds, Runtime.version());
    try (EventSubscription sub = startEvents(h)) {
      WorkerLauncher.Running p = launcher.start(h);
      try {
        Long started = awaitStarted(p.process(), 60_000);
        if (started == null) {
          String what =
              p.process().isAlive()
                  ? "no worker.started within 60 s"
                  : "exited with " + p.process().exitValue() + " before worker.started";
          progress("worker process: %s; log:%n%s", what, p.logTail());
          report.text("  bin/worker: %s (its log is on stderr)", what);
        } else {
          Conditions.Meter idle = Conditions.start();
          Harness.sleep(idleSeconds * 1000L);
          ProcStatus s = ProcStatus.read(p.pid());
          progress("worker process %d idle: %s", p.pid(), s);
          report.text(
              "  bin/worker (defaults):            %6.1f MiB  (peak %.1f MiB, %d threads)  %s",
              s.rssMiB(), s.hwmMiB(), s.threads(), idle.end());
          j.put("workerRssMiB", Stats.round1(s.rssMiB()));
          j.put("workerPeakRssMiB", Stats.round1(s.hwmMiB()));
          j.put("workerThreads", s.threads());
        }
      } finally {
        p.stop();
      }
    }
    RawIdleConsumer.Running raw = RawIdleConsumer.launch(common.uri, h.queue(), concurrency);
    try {
      if (raw.awaitReady(60)) {
        Conditions.Meter idle = Conditions.start();
        Harness.sleep(idleSeconds * 1000L);
        ProcStatus s = ProcStatus.read(raw.pid());
        progress("raw consumer process %d idle: %s", raw.pid(), s);
        report.text(
            "  raw amqp-client consumer JVM:     %6.1f MiB  (peak %.1f MiB, %d threads)  %s",
            s.rssMiB(), s.hwmMiB(), s.threads(), idle.end());
        j.put("rawConsumerRssMiB", Stats.round1(s.rssMiB()));
        j.put("rawConsumerPeakRssMiB", Stats.round1(s.hwmMiB()));
        j.put("rawConsumerThreads", s.threads());
      } else {
        report.text("  raw amqp-client consumer JVM: did not get ready within 60 s");
      }
    } finally {
      raw.stop();
    }
    j.put("idleSeconds", idleSeconds);
    report.put("idleMemory", j);
  }
}
