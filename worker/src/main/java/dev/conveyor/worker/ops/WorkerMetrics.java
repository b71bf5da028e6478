package dev.conveyor.worker.ops;

import com.rabbitmq.client.MetricsCollector;
import com.rabbitmq.client.impl.MicrometerMetricsCollector;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.worker.handlers.ExecStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The worker's Prometheus metrics. Task counters are fed from the same events the worker publishes,
 * so what {@code /metrics} counts is what {@code control watch} shows.
 */
public final class WorkerMetrics {

  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

  private final Map<String, Counter> started = new ConcurrentHashMap<>();
  private final Map<MeterKey, Counter> finished = new ConcurrentHashMap<>();
  private final Map<MeterKey, Timer> durations = new ConcurrentHashMap<>();

  /** The types the worker runs; null: every type counts under its own name. */
  private volatile Set<String> knownTypes;

  public WorkerMetrics(String worker) {
    registry.config().commonTags("worker", worker);
    FunctionCounter.builder(
            "conveyor.exec.tree.walk.failures", ExecStats.class, c -> ExecStats.treeWalkFailures())
        .description("exec process trees that /proc could not list; every process was scanned")
        .register(registry);
    FunctionCounter.builder(
            "conveyor.exec.leftovers", ExecStats.class, c -> ExecStats.leftoversEnded())
        .description("processes an exec task left running when it ended, killed")
        .tag("of", "task")
        .register(registry);
    FunctionCounter.builder(
            "conveyor.exec.leftovers", ExecStats.class, c -> ExecStats.orphansEnded())
        .description("processes an exec task left running when it ended, killed")
        .tag("of", "dead-worker")
        .register(registry);
  }

  /** The JVM's memory, threads and CPU: for a worker that serves them. */
  public void bindJvm() {
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
  }

  /** The child JVMs of {@code --isolation process}: started, killed, crashed; spares now. */
  public void children(dev.conveyor.worker.isolation.ChildPool pool) {
    FunctionCounter.builder("conveyor.children.started", pool, p -> p.started())
        .description("child JVMs started, replacements included")
        .register(registry);
    FunctionCounter.builder("conveyor.children.killed", pool, p -> p.killed())
        .description("child JVMs ended because their task was killed")
        .register(registry);
    FunctionCounter.builder("conveyor.children.crashed", pool, p -> p.crashed())
        .description("child JVMs that ended on their own: exit, signal, out of heap")
        .register(registry);
    Gauge.builder("conveyor.children.spare", pool, p -> p.spares())
        .description("ready child JVMs that run no task")
        .register(registry);
  }

  /** amqp-client's own collector (connections, channels, published/consumed/acked messages). */
  public MetricsCollector amqpCollector() {
    return new MicrometerMetricsCollector(registry, "rabbitmq");
  }

  public void runningGauge(Supplier<Number> running) {
    Gauge.builder("conveyor.tasks.running", running)
        .description("tasks held now")
        .register(registry);
  }

  /**
   * The task types this worker runs. Other types (a message's own, which a rejection reports) are
   * counted as {@code unknown}: a label per type a producer or a hostile payload makes up would
   * grow the metrics without bound.
   */
  public void knownTypes(Collection<String> types) {
    knownTypes = Set.copyOf(types);
  }

  /**
   * Counts every task event; finished attempts also feed the duration timer. Runs twice per task on
   * its thread, so the meters are looked up by a small key instead of being built (tags sorted, ids
   * merged) each time.
   */
  public void taskEvent(TaskEvent e) {
    Set<String> known = knownTypes;
    String type =
        e.type() == null || (known != null && !known.contains(e.type())) ? "unknown" : e.type();
    if (e.state() == TaskState.RUNNING) {
      started
          .computeIfAbsent(
              type,
              t -> Counter.builder("conveyor.tasks.started").tags("type", t).register(registry))
          .increment();
      return;
    }
    String cause = cause(e);
    finished
        .computeIfAbsent(
            new MeterKey(type, e.state(), cause),
            k ->
                Counter.builder("conveyor.tasks.finished")
                    .description("task events after running, by outcome")
                    .tags("type", k.type(), "state", k.state().wire(), "cause", k.cause())
                    .register(registry))
        .increment();
    if (e.durationMs() != null && e.state() != TaskState.REQUEUED && e.state() != TaskState.DEAD) {
      durations
          .computeIfAbsent(
              new MeterKey(type, e.state(), null),
              k ->
                  Timer.builder("conveyor.tasks.duration")
                      .tags("type", k.type(), "state", k.state().wire())
                      .register(registry))
          .record(Duration.ofMillis(e.durationMs()));
    }
  }

  /**
   * The tags of a task meter: a handful of distinct values per worker. Its equals and hashCode are
   * written out: the record's own, built from method handles, were half of this class's time on the
   * task threads in a profile (docs/benchmarks.md).
   */
  private record MeterKey(String type, TaskState state, String cause) {
    @Override
    public boolean equals(Object o) {
      return o instanceof MeterKey k
          && k.state == state
          && k.type.equals(type)
          && java.util.Objects.equals(k.cause, cause);
    }

    @Override
    public int hashCode() {
      int s = state == null ? -1 : state.ordinal();
      return (type.hashCode() * 31 + s) * 31 + (cause == null ? 0 : cause.hashCode());
    }
  }

  public void controlCommand(String command) {
    Counter.builder("conveyor.control.commands")
        .tags("command", command)
        .register(registry)
        .increment();
  }

  public void controlRefused(String reason) {
    Counter.builder("conveyor.control.refused")
        .description("control messages dropped: malformed, unsigned, bad signature, stale")
        .tags("reason", reason)
        .register(registry)
        .increment();
  }

  /** One step up the escalation ladder, by stage and by who asked. */
  public void escalation(String stage, String cause) {
    Counter.builder("conveyor.watchdog.escalations")
        .description("steps up the escalation ladder: stopping, killing, stuck")
        .tags("stage", stage, "cause", cause)
        .register(registry)
        .increment();
  }

  public void eventDropped() {
    Counter.builder("conveyor.events.dropped")
        .description("events given up because the broker stayed unreachable too long")
        .register(registry)
        .increment();
  }

  public String scrape() {
    return registry.scrape();
  }

  private static String cause(TaskEvent e) {
    return e.cause() == null ? "none" : e.cause().wire();
  }
}
