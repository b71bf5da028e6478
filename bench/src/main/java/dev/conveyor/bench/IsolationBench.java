package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.worker.WorkerConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bin/worker --isolation process} (docs/isolation.md): how fast a kill of a Java task that
 * ignores interrupts ends it when it runs in a child JVM, how soon the killed slot serves again,
 * what noop throughput costs against {@code --isolation thread}, and the memory of a worker with
 * its children. The workers are {@code bin/worker} processes (a copy of the jar); commands and
 * tasks are published raw, events timed on receipt in this process.
 */
@CommandLine.Command(
    name = "isolation",
    mixinStandardHelpOptions = true,
    description = {
      "bin/worker --isolation process: kill of a spinning Java task in a child -> task.cancelled,"
          + " killed slot -> next task running on the spare, noop throughput process vs thread"
          + " (same run, rotating order), RSS of the worker JVM and its children."
    })
public final class IsolationBench implements Callable<Integer> {

  static final String SPIN = "{\"type\":\"spin\",\"payload\":{\"seconds\":600},\"maxAttempts\":1}";
  static final String NOOP = "{\"type\":\"noop\"}";

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--rounds",
      defaultValue = "30",
      description = "Counted kill rounds (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(
      names = "--warmup",
      defaultValue = "5",
      description = "Kill rounds run first and not counted (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(
      names = "--messages",
      defaultValue = "12000",
      description = "noop tasks per throughput run (default: ${DEFAULT-VALUE}).")
  int messages;

  @Option(
      names = "--runs",
      defaultValue = "3",
      description =
          "Throughput rounds, each running thread and process once, after one warm-up round"
              + " (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(
      names = "--concurrency",
      defaultValue = "4",
      description = "Concurrency of the throughput and memory workers (default: ${DEFAULT-VALUE}).")
  int concurrency;

  @Option(
      names = "--child-heap",
      defaultValue = "128m",
      description = "--child-heap of the process workers (default: ${DEFAULT-VALUE}).")
  String childHeap;

  @Option(
      names = "--settle-ms",
      defaultValue = "100",
      description =
          "Pause once the spin task runs and the next task is queued, before the kill"
              + " (default: ${DEFAULT-VALUE}).")
  int settleMs;

  @Option(
      names = "--round-timeout",
      defaultValue = "60",
      description =
          "Seconds any wait may take before the phase is abandoned (default: ${DEFAULT-VALUE}).")
  int roundTimeout;

  @Option(
      names = "--repo",
      defaultValue = "${sys:conveyor.repo:-.}",
      description = "The repository, for bin/worker (default: bench/run's).")
  Path repo;

  private final String issuedBy = "bench@" + WorkerConfig.host();
  private final HttpClient http = HttpClient.newHttpClient();

  /** Receipt times (nanoTime) of the events of the tasks being watched, by task id and state. */
  private final Map<String, Long> seen = new ConcurrentHashMap<>();

  private final Map<String, TaskEvent> finals = new ConcurrentHashMap<>();
  private final Set<String> watched = ConcurrentHashMap.newKeySet();
  private final Map<String, CommandApplied> applied = new ConcurrentHashMap<>();
  private final AtomicInteger started = new AtomicInteger();
  private final AtomicInteger succeeded = new AtomicInteger();
  private final AtomicLong lastSucceeded = new AtomicLong();

  private void onEvent(String routingKey, byte[] body) {
    long now = System.nanoTime();
    if (routingKey.startsWith("task.") && watched.isEmpty()) {
      // Throughput: task.succeeded counted, nothing decoded (the benchmark's CPU is the workers').
      if (routingKey.equals("task." + TaskState.SUCCEEDED.wire())) {
        succeeded.addAndGet(Wire.countEvents(body));
        lastSucceeded.set(now);
      }
      return;
    }
    for (byte[] one : Drains.elements(body)) {
      Event event;
      try {
        event = EventSubscription.decode(routingKey, one);
      } catch (MalformedMessageException e) {
        progress("undecodable event %s: %s", routingKey, e.getMessage());
        continue;
      }
      switch (event) {
        case Event.Worker w when w.event().state().equals(WorkerEvent.STARTED) ->
            started.incrementAndGet();
        case Event.Applied a -> applied.put(a.event().command(), a.event());
        case Event.Task t when watched.contains(t.event().task()) -> {
          TaskEvent e = t.event();
          seen.putIfAbsent(e.task() + "/" + e.state().wire(), now);
          if (e.state() != TaskState.RUNNING) {
            finals.putIfAbsent(e.task(), e);
          }
        }
        default -> {}
      }
    }
  }

  private long when(String task, TaskState state) {
    return seen.getOrDefault(task + "/" + state.wire(), 0L);
  }

  /** Waits (polling every millisecond) until the condition holds; false on timeout. */
  private boolean await(BooleanSupplier condition) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(roundTimeout);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        return false;
      }
      Harness.sleep(1);
    }
    return true;
  }

  private void awaitOrFail(String what, BooleanSupplier condition) {
    if (!await(condition)) {
      throw new IllegalStateException("not within " + roundTimeout + " s: " + what);
    }
  }

  private static double micros(Instant from, Instant to) {
    return Duration.between(from, to).toNanos() / 1e6;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static final Pattern SPARE =
      Pattern.compile("(?m)^conveyor_children_spare\\{[^}]*} ([0-9.]+)$");

  /** The worker's {@code conveyor_children_spare} gauge, or -1 if it cannot be read. */
  private int spare(int metricsPort) {
    try {
      String body =
          http.send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                      .timeout(Duration.ofSeconds(5))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      Matcher m = SPARE.matcher(body);
      return m.find() ? (int) Double.parseDouble(m.group(1)) : -1;
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** The child JVMs of a worker process. */
  private static List<ProcessHandle> childJvms(long workerPid) {
    return ProcessHandle.of(workerPid).stream()
        .flatMap(ProcessHandle::children)
        .filter(p -> p.info().command().map(c -> c.endsWith("/java")).orElse(false))
        .toList();
  }

  private ControlMessage command(Command verb, Target target) {
    return new ControlMessage(Ids.newId(), verb, target, false, Instant.now(), issuedBy);
  }

  private WorkerLauncher.Running startWorker(
      Harness h, WorkerLauncher launcher, String name, String isolation, int conc, int port)
      throws Exception {
    int before = started.get();
    List<String> args =
        new ArrayList<>(
            List.of(
                "--name",
                name,
                "--isolation",
                isolation,
                "--concurrency",
                Integer.toString(conc),
                "--shutdown-grace",
                "1s",
                "--kill-grace",
                "10s",
                "--metrics-port",
                Integer.toString(port)));
    if (isolation.equals("process")) {
      args.addAll(List.of("--child-heap", childHeap));
    }
    WorkerLauncher.Running w = launcher.start(h, args.toArray(String[]::new));
    awaitOrFail(name + " worker.started", () -> started.get() > before);
    if (isolation.equals("process")) {
      // Every slot's child and the spare started and ready: nothing starts a JVM meanwhile.
      awaitOrFail(name + " all children ready", () -> spare(port) == conc + 1);
    }
    return w;
  }

  @SuppressWarnings("try") // the subscription only has to stay open while events arrive
  @Override
  public Integer call() throws Exception {
    Report report = new Report("isolation");
    var found = WorkerLauncher.find(repo);
    if (found.isEmpty()) {
      System.err.println("isolation: no bin/worker or its jar in " + repo + " (mvn package)");
      return 2;
    }
    WorkerLauncher launcher = found.get().snapshot();
    List<WorkerLauncher.Running> running = new ArrayList<>();
    try (Harness h = Harness.open(common.uri, "isolation");
        EventSubscription sub =
            EventSubscription.openRaw(
                h.connection(),
                h.topology(),
                List.of("task.*", "worker.started", CommandApplied.ROUTING_KEY),
                this::onEvent)) {
      report.put("broker", h.brokerVersion());
      report.text("Conveyor process isolation — %s", Report.Machine.line());
      report.text(
          "broker: RabbitMQ %s; bin/worker processes (a copy of the jar), --child-heap %s; events"
              + " timed on receipt in the benchmark",
          h.brokerVersion(), childHeap);
      try {
        kills(h, launcher, report, running);
        throughput(h, launcher, report, running);
      } finally {
        for (WorkerLauncher.Running w : running) {
          try {
            w.stop();
          } catch (Exception e) {
            progress("stopping a worker: %s", e);
          }
        }
      }
    } finally {
      launcher.deleteSnapshot();
    }
    report.print(System.out, common.json);
    return 0;
  }

  /**
   * A worker with concurrency 1 (one slot, one spare): a spin task runs, a noop waits in the queue
   * behind it (prefetch 1), then the spin task is killed. Timed from just before the kill is
   * published: its task.cancelled, and the noop's task.running (the slot serving again, on the
   * promoted spare). Before the next round the pool is full again.
   */
  private void kills(
      Harness h, WorkerLauncher launcher, Report report, List<WorkerLauncher.Running> running)
      throws Exception {
    int port = freePort();
    WorkerLauncher.Running w = startWorker(h, launcher, "bench-iso-kill", "process", 1, port);
    running.add(w);
    List<Double> toCancelled = new ArrayList<>();
    List<Double> cancelledToNext = new ArrayList<>();
    List<Double> killToNext = new ArrayList<>();
    List<Double> refill = new ArrayList<>();
    List<Double> warm = new ArrayList<>();
    List<Double> toApplied = new ArrayList<>();
    List<Double> appliedToEvent = new ArrayList<>();
    List<Double> eventToReceipt = new ArrayList<>();
    int wrongCause = 0;
    int notReaped = 0;
    String abandoned = null;
    Conditions.Meter meter = Conditions.start();
    progress("kill: %d warm-up rounds, then %d counted", warmup, rounds);
    for (int i = 1 - warmup; i <= rounds; i++) {
      String spin = Ids.newId();
      String next = Ids.newId();
      watched.addAll(List.of(spin, next));
      h.publishTasks(List.of(spin), SPIN);
      if (!await(() -> when(spin, TaskState.RUNNING) != 0)) {
        abandoned = "round " + i + ": the spin task did not start";
        break;
      }
      h.publishTasks(List.of(next), NOOP);
      Set<Long> before =
          childJvms(w.pid()).stream().map(ProcessHandle::pid).collect(Collectors.toSet());
      Harness.sleep(settleMs);
      ControlMessage kill = command(Command.KILL, new Target.Tasks(List.of(spin)));
      Instant sentAt = Instant.now();
      long sent = h.publishControl(kill);
      if (!await(() -> when(spin, TaskState.CANCELLED) != 0)) {
        abandoned = "round " + i + ": no task.cancelled; " + finals.get(spin);
        break;
      }
      long cancelled = when(spin, TaskState.CANCELLED);
      int left = (int) before.stream().filter(p -> Files.exists(Path.of("/proc/" + p))).count();
      if (!await(() -> when(next, TaskState.RUNNING) != 0)) {
        abandoned = "round " + i + ": the next task did not start";
        break;
      }
      long nextRunning = when(next, TaskState.RUNNING);
      if (!await(() -> when(next, TaskState.SUCCEEDED) != 0) || !await(() -> spare(port) == 2)) {
        abandoned = "round " + i + ": the next task did not succeed or the pool did not refill";
        break;
      }
      double refilled = Stats.millis(System.nanoTime() - sent);
      TaskEvent end = finals.get(spin);
      if (end == null || end.cause() != Cause.USER_KILL) {
        wrongCause++;
      }
      // Where the time goes, by the worker's own stamps (same machine, same clock): the command
      // reaching the worker and the SIGKILL sent (command.applied is stamped after the kill), the
      // child's death, reaping and the settlement (task.cancelled stamped), the event's delivery.
      CommandApplied ack = applied.get(kill.id());
      if (end != null && ack != null && i >= 1) {
        toApplied.add(micros(sentAt, ack.at()));
        appliedToEvent.add(micros(ack.at(), end.at()));
        eventToReceipt.add(Stats.millis(cancelled - sent) - micros(sentAt, end.at()));
      }
      // The killed child is reaped when task.cancelled is published; one of `before` is gone.
      notReaped += Math.max(0, left - (before.size() - 1));
      double c = Stats.millis(cancelled - sent);
      if (i >= 1) {
        toCancelled.add(c);
        cancelledToNext.add(Stats.millis(nextRunning - cancelled));
        killToNext.add(Stats.millis(nextRunning - sent));
        refill.add(refilled);
      } else {
        warm.add(c);
      }
      progress(
          "kill round %s: task.cancelled after %.2f ms, next task running %.2f ms after it,"
              + " pool full again after %.0f ms",
          i >= 1 ? Integer.toString(i) : "warm-up " + (i + warmup),
          c,
          Stats.millis(nextRunning - cancelled),
          refilled);
      watched.removeAll(List.of(spin, next));
    }
    watched.clear();
    Conditions conditions = meter.end();
    Stats s = new Stats(toCancelled);
    Stats n = new Stats(cancelledToNext);
    Stats k = new Stats(killToNext);
    Stats r = new Stats(refill);
    boolean killMet = s.percentile(99) <= 20;
    boolean slotMet = n.percentile(99) <= 50;
    report.text("");
    report.text(
        "kill of a spinning Java task in a child (--concurrency 1: one slot and one spare) %s:",
        conditions);
    report.text("  kill published -> task.cancelled:       %s", s.line("ms"));
    report.text("    target p99 <= 20 ms: %s", killMet ? "met" : "MISSED");
    report.text("    of which, by the worker's stamps:");
    report.text(
        "      publish -> kill applied (SIGKILL sent):  %s", new Stats(toApplied).line("ms"));
    report.text(
        "      kill applied -> task.cancelled stamped:  %s", new Stats(appliedToEvent).line("ms"));
    report.text(
        "      stamped -> received here:               %s", new Stats(eventToReceipt).line("ms"));
    report.text("  task.cancelled -> next task running:    %s", n.line("ms"));
    report.text(
        "    (killed slot back in service on the spare) target p99 <= 50 ms: %s",
        slotMet ? "met" : "MISSED");
    report.text("  kill published -> next task running:    %s", k.line("ms"));
    report.text("  kill published -> pool full again (spare ready, polled): %s", r.line("ms"));
    report.text(
        "  warm-up rounds, not counted, to task.cancelled: %s ms",
        warm.stream()
            .map(x -> String.format(java.util.Locale.ROOT, "%.1f", x))
            .collect(Collectors.joining(" ")));
    if (wrongCause + notReaped > 0 || abandoned != null) {
      report.text(
          "  anomalies: %d wrong causes, %d killed children not reaped at task.cancelled%s",
          wrongCause, notReaped, abandoned == null ? "" : "; abandoned at " + abandoned);
    }
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("toCancelledMs", s.summary());
    j.put("publishToKillAppliedMs", new Stats(toApplied).summary());
    j.put("killAppliedToCancelledStampMs", new Stats(appliedToEvent).summary());
    j.put("cancelledStampToReceiptMs", new Stats(eventToReceipt).summary());
    j.put("cancelledToNextRunningMs", n.summary());
    j.put("killToNextRunningMs", k.summary());
    j.put("killToPoolFullMs", r.summary());
    j.put("warmupToCancelledMs", warm.stream().map(Stats::round1).toList());
    j.put("killTargetP99Ms", 20);
    j.put("killMet", killMet);
    j.put("slotTargetP99Ms", 50);
    j.put("slotMet", slotMet);
    j.put("wrongCause", wrongCause);
    j.put("notReaped", notReaped);
    if (abandoned != null) {
      j.put("abandoned", abandoned);
      progress("kill phase abandoned: %s", abandoned);
    }
    j.put("conditions", conditions.json());
    report.put("kill", j);
    w.stop();
    running.remove(w);
    h.purge();
  }

  /** One drain: the figures of one worker. */
  private record Drain(
      double perSecond,
      Conditions conditions,
      long workerRssKiB,
      List<Long> childrenRssKiB,
      double workerCpuMicrosPerTask,
      double childrenCpuMicrosPerTask) {}

  /** CPU time (user + system) a process has used so far, in ns; 0 if unknown. */
  private static long cpuNanos(ProcessHandle p) {
    return p.info().totalCpuDuration().map(Duration::toNanos).orElse(0L);
  }

  /**
   * Noop throughput, thread against process, in rounds with rotating order (a warm-up round first,
   * not counted). Each run: a fresh worker, ready (process: every child and the spare), paused; the
   * tasks published; timed from the resume's publish to the receipt of the last task.succeeded.
   * After the drain, the RSS of the worker JVM and of its children.
   */
  private void throughput(
      Harness h, WorkerLauncher launcher, Report report, List<WorkerLauncher.Running> running)
      throws Exception {
    List<String> modes = List.of("thread", "process");
    Map<String, List<Drain>> drains = new LinkedHashMap<>();
    modes.forEach(m -> drains.put(m, new ArrayList<>()));
    List<Double> ratios = new ArrayList<>();
    Conditions.Meter whole = Conditions.start();
    for (int run = 0; run <= runs; run++) {
      Map<String, Double> thisRound = new LinkedHashMap<>();
      for (int m = 0; m < modes.size(); m++) {
        String mode = modes.get((m + run) % modes.size());
        Drain d = drain(h, launcher, mode, running);
        progress(
            "throughput %s %s: %.0f tasks/s %s",
            run == 0 ? "warm-up" : "round " + run, mode, d.perSecond(), d.conditions());
        if (run > 0) {
          drains.get(mode).add(d);
          thisRound.put(mode, d.perSecond());
        }
      }
      if (run > 0) {
        ratios.add(thisRound.get("process") / thisRound.get("thread"));
      }
    }
    Conditions conditions = whole.end();
    report.text("");
    report.text(
        "noop throughput, %d tasks per run, --concurrency %d, %d rounds (+1 warm-up) %s:",
        messages, concurrency, runs, conditions);
    Map<String, Object> j = new LinkedHashMap<>();
    for (String mode : modes) {
      List<Drain> ds = drains.get(mode);
      Stats s = new Stats(ds.stream().map(Drain::perSecond).toList());
      report.text(
          "  --isolation %-7s median %.0f tasks/s  (runs: %s)",
          mode,
          s.median(),
          ds.stream()
              .map(
                  d ->
                      String.format(
                          java.util.Locale.ROOT, "%.0f %s", d.perSecond(), d.conditions()))
              .collect(Collectors.joining(", ")));
      j.put(mode + "PerSecond", ds.stream().map(d -> Stats.round1(d.perSecond())).toList());
      Stats wc = new Stats(ds.stream().map(Drain::workerCpuMicrosPerTask).toList());
      Stats cc = new Stats(ds.stream().map(Drain::childrenCpuMicrosPerTask).toList());
      report.text(
          "    CPU per task (median of the runs): worker JVM %.0f µs%s",
          wc.median(),
          mode.equals("process") ? String.format(" + child JVMs %.0f µs", cc.median()) : "");
      j.put(mode + "WorkerCpuMicrosPerTask", Stats.round1(wc.median()));
      j.put(mode + "ChildrenCpuMicrosPerTask", Stats.round1(cc.median()));
    }
    Stats ratio = new Stats(ratios);
    boolean met = ratio.median() >= 0.5;
    report.text(
        "  process / thread, per-pair median: %.2f (pairs: %s); target >= 0.5: %s",
        ratio.median(),
        ratios.stream()
            .map(x -> String.format(java.util.Locale.ROOT, "%.2f", x))
            .collect(Collectors.joining(" ")),
        met ? "met" : "MISSED");
    j.put("ratioPerPairMedian", Stats.round3(ratio.median()));
    j.put("ratios", ratios.stream().map(Stats::round3).toList());
    j.put("met", met);
    j.put("conditions", conditions.json());
    report.put("throughput", j);

    // Memory after the last drain of each mode.
    Map<String, Object> mem = new LinkedHashMap<>();
    report.text("");
    report.text("memory after a drain (VmRSS, --concurrency %d):", concurrency);
    for (String mode : modes) {
      Drain d = drains.get(mode).getLast();
      long children = d.childrenRssKiB().stream().mapToLong(Long::longValue).sum();
      report.text(
          "  --isolation %-7s worker JVM %.0f MiB%s; total %.0f MiB %s",
          mode,
          d.workerRssKiB() / 1024.0,
          d.childrenRssKiB().isEmpty()
              ? ""
              : String.format(
                  java.util.Locale.ROOT,
                  " + %d children %.0f MiB (%s MiB each)",
                  d.childrenRssKiB().size(),
                  children / 1024.0,
                  d.childrenRssKiB().stream()
                      .map(x -> Long.toString(Math.round(x / 1024.0)))
                      .collect(Collectors.joining("/"))),
          (d.workerRssKiB() + children) / 1024.0,
          d.conditions());
      Map<String, Object> mm = new LinkedHashMap<>();
      mm.put("workerRssKiB", d.workerRssKiB());
      mm.put("childrenRssKiB", d.childrenRssKiB());
      mm.put("totalRssKiB", d.workerRssKiB() + children);
      mm.put("conditions", d.conditions().json());
      mem.put(mode, mm);
    }
    report.put("memory", mem);
  }

  private Drain drain(
      Harness h, WorkerLauncher launcher, String mode, List<WorkerLauncher.Running> running)
      throws Exception {
    int port = freePort();
    WorkerLauncher.Running w =
        startWorker(h, launcher, "bench-iso-" + mode, mode, concurrency, port);
    running.add(w);
    try {
      ControlMessage pause = command(Command.PAUSE, Target.all());
      h.publishControl(pause);
      awaitOrFail("pause applied", () -> applied.containsKey(pause.id()));
      List<String> ids = IntStream.range(0, messages).mapToObj(x -> Ids.newId()).toList();
      h.publishTasks(ids, NOOP);
      succeeded.set(0);
      ProcessHandle workerProcess = w.process().toHandle();
      List<ProcessHandle> kids = childJvms(w.pid());
      long workerCpu = cpuNanos(workerProcess);
      long kidsCpu = kids.stream().mapToLong(IsolationBench::cpuNanos).sum();
      Conditions.Meter meter = Conditions.start();
      long sent = h.publishControl(command(Command.RESUME, Target.all()));
      awaitOrFail(
          mode + ": " + messages + " task.succeeded (" + succeeded.get() + ")",
          () -> succeeded.get() >= messages);
      double seconds = (lastSucceeded.get() - sent) / 1e9;
      Conditions c = meter.end();
      double workerCpuPerTask = (cpuNanos(workerProcess) - workerCpu) / 1e3 / messages;
      double kidsCpuPerTask =
          (kids.stream().mapToLong(IsolationBench::cpuNanos).sum() - kidsCpu) / 1e3 / messages;
      long workerRss = ProcStatus.read(w.pid()).rssKiB();
      List<Long> children = new ArrayList<>();
      for (ProcessHandle p : childJvms(w.pid())) {
        try {
          children.add(ProcStatus.read(p.pid()).rssKiB());
        } catch (IOException e) {
          progress("child %d: %s", p.pid(), e);
        }
      }
      return new Drain(
          messages / seconds, c, workerRss, children, workerCpuPerTask, kidsCpuPerTask);
    } finally {
      w.stop();
      running.remove(w);
    }
  }
}
