package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.worker.Worker;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * How punctually the watchdog enforces deadlines. Lateness is computed from the worker's own
 * timestamps: the {@code at} of a task's {@code task.timed-out} event minus the {@code at} of its
 * {@code task.running} event, minus the deadline (the stop at {@code timeoutMs}; the kill at {@code
 * timeoutMs + graceMs} for a process that ignores SIGTERM).
 */
@Command(
    name = "deadline-precision",
    mixinStandardHelpOptions = true,
    description = {
      "Lateness of deadline stops (cooperative sleep) and kills (exec that ignores SIGTERM):"
          + " timed-out.at - running.at - deadline, stamped by the worker."
    })
public final class DeadlinePrecisionBench implements Callable<Integer> {

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--tasks",
      defaultValue = "100",
      description = "Tasks per variant (default: ${DEFAULT-VALUE}).")
  int tasks;

  @Option(
      names = "--concurrency",
      defaultValue = "8",
      description = "Concurrency of the one worker (default: ${DEFAULT-VALUE}).")
  int concurrency;

  @Option(
      names = "--timeout-ms",
      defaultValue = "200",
      description = "Task timeoutMs (default: ${DEFAULT-VALUE}).")
  long timeoutMs;

  @Option(
      names = "--grace-ms",
      defaultValue = "200",
      description = "Task graceMs (default: ${DEFAULT-VALUE}).")
  long graceMs;

  private volatile Batch current;

  /** The tasks of one variant and the worker's timestamps for them. */
  private static final class Batch {
    final Set<String> ids;
    final Map<String, Instant> running = new ConcurrentHashMap<>();
    final Map<String, Instant> timedOut = new ConcurrentHashMap<>();
    final Set<String> ended = ConcurrentHashMap.newKeySet();
    final CountDownLatch allEnded;
    final AtomicInteger wrongCause = new AtomicInteger();
    final AtomicInteger unexpected = new AtomicInteger();

    Batch(List<String> ids) {
      this.ids = Set.copyOf(ids);
      this.allEnded = new CountDownLatch(ids.size());
    }
  }

  private void onEvent(Event event) {
    Batch b = current;
    if (b == null || !(event instanceof Event.Task t) || !b.ids.contains(t.event().task())) {
      return;
    }
    TaskEvent e = t.event();
    switch (e.state()) {
      case RUNNING -> b.running.putIfAbsent(e.task(), e.at());
      case TIMED_OUT -> {
        b.timedOut.putIfAbsent(e.task(), e.at());
        if (e.cause() != Cause.DEADLINE) {
          b.wrongCause.incrementAndGet();
        }
      }
      case DEAD -> {
        if (b.ended.add(e.task())) {
          b.allEnded.countDown();
        }
      }
      default -> {
        b.unexpected.incrementAndGet();
        progress(
            "unexpected event for %s: %s %s %s", e.task(), e.state().wire(), e.cause(), e.reason());
        if (e.state().isFinal() && b.ended.add(e.task())) {
          b.allEnded.countDown();
        }
      }
    }
  }

  @SuppressWarnings("try") // the subscription only has to stay open while events arrive
  @Override
  public Integer call() throws Exception {
    Report report = new Report("deadline-precision");
    try (Harness h = Harness.open(common.uri, "deadline")) {
      Worker worker = null;
      try (EventSubscription sub =
          EventSubscription.open(h.connection(), h.topology(), List.of("task.*"), this::onEvent)) {
        worker =
            Worker.start(
                h.workerConfig("bench-deadline")
                    .withConcurrency(concurrency)
                    .withShutdownGrace(Duration.ofSeconds(1))
                    .withExecAllow(List.of(Path.of("/bin/sh"))));
        report.put("broker", h.brokerVersion());
        report.put("tasks", tasks);
        report.put("concurrency", concurrency);
        report.put("timeoutMs", timeoutMs);
        report.put("graceMs", graceMs);
        report.text("Conveyor deadline precision — %s", Report.Machine.line());
        report.text(
            "broker: RabbitMQ %s; one in-process worker, concurrency %d; %d tasks per variant,"
                + " timeoutMs %d, graceMs %d, maxAttempts 1",
            h.brokerVersion(), concurrency, tasks, timeoutMs, graceMs);
        String deadline =
            ",\"timeoutMs\":" + timeoutMs + ",\"graceMs\":" + graceMs + ",\"maxAttempts\":1}";
        variant(
            h,
            report,
            "stop",
            "deadline stop, cooperative sleep: timed-out.at - running.at - timeoutMs",
            "{\"type\":\"sleep\",\"payload\":{\"seconds\":60}" + deadline,
            timeoutMs,
            10);
        variant(
            h,
            report,
            "kill",
            "deadline kill, exec that ignores SIGTERM: timed-out.at - running.at - (timeoutMs + graceMs)",
            "{\"type\":\"exec\",\"payload\":{\"command\":[\"/bin/sh\",\"-c\","
                + "\"trap '' TERM; exec /bin/sleep 600\"]}"
                + deadline,
            timeoutMs + graceMs,
            20);
      } finally {
        if (worker != null) {
          worker.close();
        }
      }
    }
    report.print(System.out, common.json);
    return 0;
  }

  private void variant(
      Harness h,
      Report report,
      String key,
      String title,
      String task,
      long deadlineMs,
      double target)
      throws Exception {
    List<String> ids = IntStream.range(0, tasks).mapToObj(x -> Ids.newId()).toList();
    Batch b = new Batch(ids);
    current = b;
    progress("%s: publishing %d tasks", key, tasks);
    h.publishTasks(ids, task);
    long waves = (tasks + concurrency - 1) / concurrency;
    long limit = 60 + waves * (timeoutMs + graceMs) * 4 / 1000;
    boolean complete = b.allEnded.await(limit, TimeUnit.SECONDS);
    current = null;
    if (!complete) {
      progress("%s: only %d of %d tasks ended within %d s", key, b.ended.size(), tasks, limit);
    }
    List<Double> lateness = new ArrayList<>();
    for (String id : ids) {
      Instant run = b.running.get(id);
      Instant out = b.timedOut.get(id);
      if (run != null && out != null) {
        lateness.add(Duration.between(run, out).toNanos() / 1e6 - deadlineMs);
      }
    }
    Stats s = new Stats(lateness);
    boolean met = s.percentile(99) <= target;
    progress("%s: %s", key, s.line("ms"));
    report.text("");
    report.text("%s:", title);
    report.text("  lateness: %s", s.line("ms"));
    report.text("  target p99 <= %.0f ms: %s", target, met ? "met" : "NOT met");
    int missing = tasks - s.count();
    if (missing + b.wrongCause.get() + b.unexpected.get() > 0) {
      report.text(
          "  anomalies: %d tasks without both events, %d timed-out with another cause, %d"
              + " unexpected events",
          missing, b.wrongCause.get(), b.unexpected.get());
    }
    Map<String, Object> j = new LinkedHashMap<>();
    j.put("deadlineMs", deadlineMs);
    j.put("latenessMs", s.summary());
    j.put("targetP99Ms", target);
    j.put("met", met);
    j.put("missing", missing);
    j.put("wrongCause", b.wrongCause.get());
    j.put("unexpectedEvents", b.unexpected.get());
    report.put(key, j);
  }
}
