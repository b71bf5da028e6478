package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.worker.Worker;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Noop tasks per second through one in-process Conveyor worker (concurrency 4) against a raw
 * amqp-client consumer with the same prefetch and manual acks, on the same quorum queue, runs
 * alternating; between them the same raw consumer publishing the two events per task the protocol
 * requires, and that consumer again with a worker's threads, which show how much of the gap any
 * worker would pay; then start latency (in-process and as an OS process) and idle resident memory.
 */
@Command(
    name = "throughput",
    mixinStandardHelpOptions = true,
    description = {
      "Noop tasks/s through one Conveyor worker (concurrency 4) vs a raw amqp-client consumer"
          + " (prefetch 4, manual ack) on the same quorum queue, and that consumer publishing the"
          + " two events per task the protocol requires, with and without a worker's threads; worker"
          + " start latency; idle RSS."
    })
public final class ThroughputBench implements Callable<Integer> {

  static final String NOOP = "{\"type\":\"noop\"}";

  /**
   * The outcomes a drain waits for, counted by routing key alone: decoding 20 000 events would take
   * CPU from the worker this JVM hosts, and the raw consumer has no such observer.
   */
  private static final List<TaskState> FINAL_STATES =
      List.of(TaskState.SUCCEEDED, TaskState.FAILED, TaskState.REJECTED, TaskState.DEAD);

  private static final String RUNNING_KEY = TaskState.RUNNING.routingKey();
  private static final String SUCCEEDED_KEY = TaskState.SUCCEEDED.routingKey();
  private static final AMQP.BasicProperties EVENT_PROPS =
      new AMQP.BasicProperties.Builder().contentType("application/json").build();
  private static final byte[] RUNNING_EVENT = sampleEvent("running", "");
  private static final byte[] SUCCEEDED_EVENT = sampleEvent("succeeded", ",\"durationMs\":0");

  /** What the bare consumer does besides acking each message in its delivery callback. */
  private enum Bare {
    /** Nothing: the baseline of the target. */
    RAW("raw"),
    /**
     * Publishes a {@code task.running} before the ack and a {@code task.succeeded} after it, on a
     * second channel: the broker's share of the events the protocol requires of every worker.
     */
    EVENTS("raw+events"),
    /**
     * The same, on a worker's threads: each message is handed to one of {@code concurrency} task
     * threads, which acks it, and the events go out from one events thread, as a worker that runs
     * its tasks at once and never makes a task wait on a socket for a notification must do. What
     * the two cost together, with none of a worker's own code.
     */
    THREADS("raw+threads");

    final String label;

    Bare(String label) {
      this.label = label;
    }
  }

  /** An event body shaped and sized like a worker's for a noop task. */
  private static byte[] sampleEvent(String state, String extra) {
    return ("{\"task\":\""
            + Ids.newId()
            + "\",\"type\":\"noop\",\"state\":\""
            + state
            + "\",\"worker\":\"bench-raw-events\",\"attempt\":1,\"at\":\"2026-11-22T02:00:00.123456Z\""
            + extra
            + ",\"queue\":\"default\"}")
        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--messages",
      defaultValue = "20000",
      description = "Tasks pre-published per run (default: ${DEFAULT-VALUE}).")
  int messages;

  @Option(
      names = "--runs",
      defaultValue = "5",
      description =
          "Measured runs of each consumer, after one discarded warm-up run each"
              + " (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(
      names = "--concurrency",
      defaultValue = "4",
      description = "Worker concurrency = raw consumer prefetch (default: ${DEFAULT-VALUE}).")
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
      names = "--repo",
      defaultValue = "${sys:conveyor.repo:-.}",
      description =
          "The repository, for bin/worker and worker/target/worker*-all.jar"
              + " (default: the one bench/run belongs to).")
  Path repo;

  @Option(
      names = "--timeout",
      defaultValue = "300",
      description =
          "Seconds one drain may take before the run is abandoned (default:"
              + " ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  /** The run the event listener counts for; replaced before each Conveyor run. */
  private volatile Drain current;

  /** Receipt times of task.running by task id, and of worker.started by worker pid. */
  private final Map<String, Long> runningAt = new ConcurrentHashMap<>();

  private final Map<Long, Long> workerStartedAt = new ConcurrentHashMap<>();

  @Override
  public Integer call() throws Exception {
    Report report = new Report("throughput");
    try (Harness h = Harness.open(common.uri, "tp")) {
      report.put("broker", h.brokerVersion());
      report.text("Conveyor throughput, start latency and idle memory — %s", Report.Machine.line());
      report.text("broker: RabbitMQ %s on %s", h.brokerVersion(), h.settings().describe());
      throughput(h, report);
      startLatencyInProcess(h, report);
      Optional<WorkerLauncher> launcher = WorkerLauncher.find(repo);
      if (launcher.isEmpty()) {
        report.text(
            "process start and idle memory: skipped (no executable %s/bin/worker or no"
                + " worker/target/worker*-all.jar; run 'mvn -DskipTests package' first)",
            repo.toAbsolutePath().normalize());
        report.put("process", "skipped: no bin/worker or worker jar");
      } else {
        if (processRounds > 0) {
          startLatencyProcess(h, report, launcher.get());
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
  // Throughput

  @SuppressWarnings("try") // the subscription only has to stay open while events arrive
  private void throughput(Harness h, Report report) throws Exception {
    List<Double> raw = new ArrayList<>();
    List<Double> rawEvents = new ArrayList<>();
    List<Double> rawThreads = new ArrayList<>();
    List<Double> conveyor = new ArrayList<>();
    List<Map<String, Object>> runsJson = new ArrayList<>();
    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(common.uri);
    factory.setVirtualHost("/");
    try (Connection rawConnection = factory.newConnection("conveyor-bench raw consumer");
        EventSubscription sub =
            EventSubscription.openRaw(
                h.connection(),
                h.topology(),
                FINAL_STATES.stream().map(TaskState::routingKey).toList(),
                (routingKey, body) -> {
                  // The raw+events consumer's stand-ins are counted by nobody.
                  if (!Arrays.equals(body, SUCCEEDED_EVENT)) {
                    // A worker sends the events that queued up as one array per routing key.
                    onOutcome(SUCCEEDED_KEY.equals(routingKey), Wire.countEvents(body));
                  }
                })) {
      for (int run = 0; run <= runs; run++) {
        boolean warmup = run == 0;
        String label = warmup ? "warm-up" : "run " + run;
        double r = rawRun(h, rawConnection, label, Bare.RAW);
        double e = rawRun(h, rawConnection, label, Bare.EVENTS);
        double th = rawRun(h, rawConnection, label, Bare.THREADS);
        double c = conveyorRun(h, label);
        if (!warmup) {
          raw.add(r);
          rawEvents.add(e);
          rawThreads.add(th);
          conveyor.add(c);
        }
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("run", warmup ? "warm-up" : run);
        j.put("rawPerSecond", Stats.round1(r));
        j.put("rawWithEventsPerSecond", Stats.round1(e));
        j.put("rawWithThreadsPerSecond", Stats.round1(th));
        j.put("conveyorPerSecond", Stats.round1(c));
        runsJson.add(j);
      }
    }
    Stats rs = new Stats(raw);
    Stats es = new Stats(rawEvents);
    Stats ts = new Stats(rawThreads);
    Stats cs = new Stats(conveyor);
    double ratio = cs.median() / rs.median();
    report.text("");
    report.text(
        "throughput: %d noop tasks per run, one consumer with prefetch/concurrency %d, quorum queue,"
            + " runs alternate raw / raw+events / raw+threads / Conveyor (warm-up discarded)",
        messages, concurrency);
    for (Map<String, Object> j : runsJson) {
      report.text(
          "  %-8s raw %8.1f   raw+events %8.1f   raw+threads %8.1f   Conveyor %8.1f msg/s",
          j.get("run"),
          j.get("rawPerSecond"),
          j.get("rawWithEventsPerSecond"),
          j.get("rawWithThreadsPerSecond"),
          j.get("conveyorPerSecond"));
    }
    report.text(
        "  median   raw %8.1f   raw+events %8.1f   raw+threads %8.1f   Conveyor %8.1f msg/s",
        rs.median(), es.median(), ts.median(), cs.median());
    report.text(
        "  ratio Conveyor/raw (medians): %.3f  (target >= 0.8: %s)",
        ratio, ratio >= 0.8 ? "met" : "NOT met");
    // The broker's own pace drifts by tens of per cent within minutes on a shared VM (it waits on
    // fsync and on CPU time the host may give elsewhere); each pair ran back to back.
    Stats pairs =
        new Stats(
            IntStream.range(0, raw.size()).mapToObj(i -> conveyor.get(i) / raw.get(i)).toList());
    report.text(
        "  ratio per run pair: median %.3f  min %.3f  max %.3f",
        pairs.median(), pairs.min(), pairs.max());
    // What the two events per task the protocol requires cost any worker, before any work of its
    // own, and then with a worker's threads.
    double floor = es.median() / rs.median();
    double threadsFloor = ts.median() / rs.median();
    report.text(
        "  ratio raw+events/raw (medians): %.3f   Conveyor/(raw+events): %.3f",
        floor, cs.median() / es.median());
    report.text(
        "  ratio raw+threads/raw (medians): %.3f   Conveyor/(raw+threads): %.3f",
        threadsFloor, cs.median() / ts.median());
    Map<String, Object> t = new LinkedHashMap<>();
    t.put("messagesPerRun", messages);
    t.put("concurrency", concurrency);
    t.put("runs", runsJson);
    t.put("rawMedianPerSecond", Stats.round1(rs.median()));
    t.put("rawWithEventsMedianPerSecond", Stats.round1(es.median()));
    t.put("rawWithThreadsMedianPerSecond", Stats.round1(ts.median()));
    t.put("conveyorMedianPerSecond", Stats.round1(cs.median()));
    t.put("ratio", Stats.round3(ratio));
    t.put("pairRatioMedian", Stats.round3(pairs.median()));
    t.put("pairRatioMin", Stats.round3(pairs.min()));
    t.put("pairRatioMax", Stats.round3(pairs.max()));
    t.put("rawWithEventsRatio", Stats.round3(floor));
    t.put("rawWithThreadsRatio", Stats.round3(threadsFloor));
    t.put("target", 0.8);
    t.put("met", ratio >= 0.8);
    report.put("throughput", t);
  }

  private List<String> publishNoops(Harness h, int n) throws IOException {
    List<String> ids = IntStream.range(0, n).mapToObj(i -> Ids.newId()).toList();
    long ready = h.depth();
    if (ready != 0) {
      progress("queue not empty before a run (%d ready): purging", ready);
      h.purge();
    }
    long t0 = System.nanoTime();
    h.publishTasks(ids, NOOP);
    double s = (System.nanoTime() - t0) / 1e9;
    progress("published %d tasks with confirms in %.2f s (%.0f msg/s)", n, s, n / s);
    return ids;
  }

  /**
   * A raw amqp-client consumer: prefetch, manual ack of each message, and whatever {@code bare}
   * adds. The events are fixed bodies of the size a worker's have, published to {@code ns.events},
   * where this benchmark's subscription receives the {@code succeeded} ones, as it does a worker's.
   */
  private double rawRun(Harness h, Connection connection, String label, Bare bare)
      throws Exception {
    publishNoops(h, messages);
    Channel ch = connection.createChannel();
    ch.basicQos(concurrency);
    Channel eventChannel = bare == Bare.RAW ? null : connection.createChannel();
    ExecutorService taskThreads =
        bare == Bare.THREADS
            ? Executors.newFixedThreadPool(
                concurrency, Thread.ofPlatform().name("bench-raw-task-", 1).factory())
            : null;
    ExecutorService eventThread =
        bare == Bare.THREADS
            ? Executors.newSingleThreadExecutor(
                Thread.ofPlatform().name("bench-raw-events").factory())
            : null;
    String exchange = h.topology().names().eventsExchange();
    CountDownLatch done = new CountDownLatch(1);
    AtomicInteger acked = new AtomicInteger();
    AtomicReference<IOException> failure = new AtomicReference<>();
    Consumer<IOException> fail =
        e -> {
          failure.compareAndSet(null, e);
          done.countDown(); // the run is over
        };
    long[] end = new long[1];
    int n = messages;
    IoAction publishRunning =
        () -> eventChannel.basicPublish(exchange, RUNNING_KEY, EVENT_PROPS, RUNNING_EVENT);
    IoAction publishSucceeded =
        () -> eventChannel.basicPublish(exchange, SUCCEEDED_KEY, EVENT_PROPS, SUCCEEDED_EVENT);
    DefaultConsumer consumer =
        new DefaultConsumer(ch) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body)
              throws IOException {
            IoAction settle =
                () -> {
                  if (bare != Bare.RAW) {
                    onEventThread(eventThread, publishRunning, fail);
                  }
                  ch.basicAck(envelope.getDeliveryTag(), false);
                  if (bare != Bare.RAW) {
                    onEventThread(eventThread, publishSucceeded, fail);
                  }
                  if (acked.incrementAndGet() == n) {
                    end[0] = System.nanoTime();
                    done.countDown();
                  }
                };
            if (taskThreads == null) {
              settle.run();
            } else {
              taskThreads.execute(() -> attempt(settle, fail));
            }
          }
        };
    long t0 = System.nanoTime();
    boolean complete;
    try {
      String tag = ch.basicConsume(h.queue(), false, consumer);
      complete = done.await(timeoutSeconds, TimeUnit.SECONDS);
      ch.basicCancel(tag);
    } finally {
      // Whatever happened: the threads finish what they hold, then the channels go.
      for (ExecutorService threads : Arrays.asList(taskThreads, eventThread)) {
        if (threads != null) {
          threads.shutdown();
          threads.awaitTermination(10, TimeUnit.SECONDS);
        }
      }
      ch.close();
      if (eventChannel != null) {
        eventChannel.close();
      }
    }
    if (failure.get() != null) {
      throw new IOException(bare.label + " " + label + " failed", failure.get());
    }
    if (!complete) {
      throw new IllegalStateException(
          bare.label
              + " "
              + label
              + ": only "
              + acked.get()
              + " of "
              + n
              + " acked in "
              + timeoutSeconds
              + " s");
    }
    double rate = n / ((end[0] - t0) / 1e9);
    progress(
        "%-11s %-8s %d acked in %.3f s: %.1f msg/s",
        bare.label, label, n, (end[0] - t0) / 1e9, rate);
    return rate;
  }

  /** A step of the bare consumer; it writes to a socket. */
  @FunctionalInterface
  private interface IoAction {
    void run() throws IOException;
  }

  /** Runs the action on the events thread if there is one, else here. */
  private static void onEventThread(
      ExecutorService eventThread, IoAction action, Consumer<IOException> fail) throws IOException {
    if (eventThread == null) {
      action.run();
    } else {
      eventThread.execute(() -> attempt(action, fail));
    }
  }

  /** Runs the action on a thread that cannot throw it; a failure ends the run. */
  private static void attempt(IoAction action, Consumer<IOException> fail) {
    try {
      action.run();
    } catch (IOException e) {
      fail.accept(e);
    }
  }

  /** What a Conveyor run counts: outcomes of its tasks, received on the subscription thread. */
  private static final class Drain {
    final int expected;
    final AtomicInteger succeeded = new AtomicInteger();
    final AtomicInteger other = new AtomicInteger();
    final CountDownLatch done = new CountDownLatch(1);
    volatile long end;

    Drain(int expected) {
      this.expected = expected;
    }
  }

  private void onOutcome(boolean succeeded, int events) {
    Drain d = current;
    if (d == null) {
      return;
    }
    if (succeeded) {
      d.succeeded.addAndGet(events);
    } else {
      d.other.addAndGet(events);
    }
    if (d.succeeded.get() + d.other.get() == d.expected) {
      d.end = System.nanoTime();
      d.done.countDown();
    }
  }

  /**
   * One in-process worker drains the queue. Timed from when {@link Worker#start} has returned (it
   * is consuming) to the receipt of the last {@code task.succeeded}; the tasks that finished before
   * start returned are left out of the count.
   */
  private double conveyorRun(Harness h, String label) throws Exception {
    publishNoops(h, messages);
    Drain d = new Drain(messages);
    current = d;
    long t0 = System.nanoTime();
    Worker worker =
        Worker.start(
            h.workerConfig("bench-tp-" + label.replace(' ', '-')).withConcurrency(concurrency));
    long ready = System.nanoTime();
    int early = d.succeeded.get() + d.other.get();
    boolean complete;
    try {
      complete = d.done.await(timeoutSeconds, TimeUnit.SECONDS);
    } finally {
      worker.close();
      current = null;
    }
    if (!complete) {
      throw new IllegalStateException(
          "Conveyor "
              + label
              + ": only "
              + (d.succeeded.get() + d.other.get())
              + " of "
              + messages
              + " outcomes in "
              + timeoutSeconds
              + " s");
    }
    if (d.other.get() > 0) {
      progress("Conveyor %s: %d tasks did not succeed", label, d.other.get());
    }
    double rate = (messages - early) / ((d.end - ready) / 1e9);
    progress(
        "Conveyor %-8s %d succeeded in %.3f s after start (start took %.0f ms, %d done during it):"
            + " %.1f msg/s",
        label, d.succeeded.get(), (d.end - ready) / 1e9, (ready - t0) / 1e6, early, rate);
    return rate;
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
    try (EventSubscription sub = startEvents(h)) {
      for (int i = 1; i <= startRounds; i++) {
        String id = Ids.newId();
        h.publishTasks(List.of(id), NOOP);
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
        "start latency, in-process (Worker.start in this already warm JVM; %d rounds):",
        run.count());
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

  /** Launch of bin/worker as an OS process with a task already queued → its task.running. */
  @SuppressWarnings("try") // the subscription only has to stay open while events arrive
  private void startLatencyProcess(Harness h, Report report, WorkerLauncher launcher)
      throws Exception {
    List<Double> toStarted = new ArrayList<>();
    List<Double> toRunning = new ArrayList<>();
    try (EventSubscription sub = startEvents(h)) {
      for (int i = 1; i <= processRounds; i++) {
        String id = Ids.newId();
        h.publishTasks(List.of(id), NOOP);
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
            continue;
          }
          toRunning.add(Stats.millis(running - t0));
          if (started != null) {
            toStarted.add(Stats.millis(started - t0));
          }
          progress(
              "process start %d: worker.started after %s ms, task.running after %.1f ms",
              i,
              started == null ? "?" : String.format("%.1f", Stats.millis(started - t0)),
              Stats.millis(running - t0));
        } finally {
          // The worker installs its SIGTERM handler just after it starts consuming; a SIGTERM in
          // between ends the JVM with 143 instead of a graceful shutdown. Not what is measured.
          Harness.sleep(500);
          int code = p.stop();
          progress("process %d ended with exit code %d", p.pid(), code);
        }
      }
    }
    Stats st = new Stats(toStarted);
    Stats run = new Stats(toRunning);
    report.text("");
    report.text(
        "start latency, OS process (bin/worker -> %s, %s; %d rounds):",
        launcher.jar().getFileName(), Runtime.version(), run.count());
    report.text(
        "  launch -> worker.started received:   median %.1f ms  min %.1f  max %.1f",
        st.median(), st.min(), st.max());
    report.text(
        "  launch -> first task.running:        median %.1f ms  min %.1f  max %.1f",
        run.median(), run.min(), run.max());
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("rounds", run.count());
    j.put("toWorkerStartedMs", toStarted.stream().map(Stats::round1).toList());
    j.put("toFirstRunningMs", toRunning.stream().map(Stats::round1).toList());
    j.put("medianToFirstRunningMs", Stats.round1(run.median()));
    report.put("startProcess", j);
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
          Harness.sleep(idleSeconds * 1000L);
          ProcStatus s = ProcStatus.read(p.pid());
          progress("worker process %d idle: %s", p.pid(), s);
          report.text(
              "  bin/worker (defaults):            %6.1f MiB  (peak %.1f MiB, %d threads)",
              s.rssMiB(), s.hwmMiB(), s.threads());
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
        Harness.sleep(idleSeconds * 1000L);
        ProcStatus s = ProcStatus.read(raw.pid());
        progress("raw consumer process %d idle: %s", raw.pid(), s);
        report.text(
            "  raw amqp-client consumer JVM:     %6.1f MiB  (peak %.1f MiB, %d threads)",
            s.rssMiB(), s.hwmMiB(), s.threads());
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
