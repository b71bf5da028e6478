package dev.conveyor.worker;

import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.cli.Cli;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.worker.isolation.Isolation;
import dev.conveyor.worker.messaging.EventLevel;
import dev.conveyor.worker.ops.TerminationSignals;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code worker}: consumes tasks until SIGTERM. */
@Command(
    name = "worker",
    mixinStandardHelpOptions = true,
    version = "conveyor worker 0.1.0",
    sortOptions = false,
    description = {
      "Consumes tasks from RabbitMQ and runs them; obeys stop/kill/pause/resume/status broadcasts"
          + " and enforces task deadlines.",
      "SIGTERM: stop taking tasks, let running ones finish within --shutdown-grace, requeue the"
          + " rest, exit 0. A second SIGTERM/SIGINT skips the wait.",
      "Exit codes: 0 ok, 2 usage, 3 broker unreachable, 70 a task could not be killed."
    })
public final class WorkerMain implements Callable<Integer> {

  private static final Duration MAX_DURATION = Duration.ofDays(365);

  /** RabbitMQ refuses larger messages whatever its configuration. */
  private static final long MAX_PAYLOAD = 512L * 1024 * 1024;

  /** The name is part of queue names, which the broker limits to 255 bytes. */
  private static final int MAX_NAME_BYTES = 100;

  @Mixin BrokerOptions broker = new BrokerOptions();

  @Spec CommandSpec spec;

  @Option(
      names = "--queues",
      split = ",",
      defaultValue = "default",
      paramLabel = "Q[,Q…]",
      description = "Task queues to consume (default: ${DEFAULT-VALUE}).")
  List<String> queues;

  @Option(
      names = "--concurrency",
      defaultValue = "4",
      description = "Tasks run at once (default: ${DEFAULT-VALUE}).")
  int concurrency;

  @Option(
      names = "--prefetch",
      description =
          "Deliveries held at once, running or waiting for a thread; at least --concurrency"
              + " (default: as many as --concurrency). More lets short tasks start without"
              + " waiting for the broker; a waiting task has no deadline yet and is handed back"
              + " at once on SIGTERM.")
  Integer prefetch;

  @Option(names = "--name", description = "Worker name for control targets (default: host-pid).")
  String name;

  @Option(
      names = "--metrics-port",
      defaultValue = "-1",
      description = "Serve /metrics and /health on this port (0 = any free port; default: off).")
  int metricsPort;

  @Option(
      names = "--metrics-bind",
      defaultValue = WorkerConfig.DEFAULT_METRICS_BIND,
      paramLabel = "ADDR",
      description =
          "Address /metrics and /health listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 = every"
              + " interface).")
  String metricsBind;

  @Option(
      names = "--shutdown-grace",
      defaultValue = "30s",
      converter = Durations.class,
      description = "How long SIGTERM lets running tasks finish (default: ${DEFAULT-VALUE}).")
  Duration shutdownGrace;

  @Option(
      names = "--kill-grace",
      defaultValue = "5s",
      converter = Durations.class,
      description =
          "How long a killed task may take to end before the worker exits 70 (default:"
              + " ${DEFAULT-VALUE}).")
  Duration killGrace;

  @Option(
      names = "--exec-allow",
      split = ",",
      paramLabel = "PROGRAM[,…]",
      description = "Programs (absolute paths) the exec type may run; none by default.")
  List<Path> execAllow = List.of();

  @Option(
      names = "--exec-env-allow",
      split = ",",
      paramLabel = "VAR[,…]",
      description =
          "Environment variables an exec task's env may set; none by default (a task that sets"
              + " another is rejected).")
  List<String> execEnvAllow = List.of();

  @Option(
      names = "--exec-cwd-allow",
      split = ",",
      paramLabel = "DIR[,…]",
      description =
          "Directories (absolute) an exec task's cwd must be in; none by default (a task with a"
              + " cwd is rejected).")
  List<Path> execCwdAllow = List.of();

  @Option(
      names = "--handlers",
      paramLabel = "JAR_DIR",
      description = "Load user task handlers from the jars in this directory.")
  Path handlers;

  @Option(
      names = "--default-timeout",
      converter = Durations.class,
      description = "Deadline for tasks that set no timeoutMs (default: none).")
  Duration defaultTimeout;

  @Option(
      names = "--default-grace",
      defaultValue = "5s",
      converter = Durations.class,
      description =
          "Grace between stop and kill for tasks that set no graceMs (default: ${DEFAULT-VALUE}).")
  Duration defaultGrace;

  @Option(
      names = "--retry-delay",
      defaultValue = "0s",
      converter = Durations.class,
      description =
          "Wait before a failed or timed-out task runs again (default: ${DEFAULT-VALUE}).")
  Duration retryDelay;

  @Option(
      names = "--max-payload",
      defaultValue = "1048576",
      paramLabel = "BYTES",
      description = "Larger task bodies are rejected (default: ${DEFAULT-VALUE}).")
  long maxPayload;

  @Option(
      names = "--heartbeat",
      defaultValue = "10s",
      converter = Durations.class,
      description = "Interval of worker.heartbeat events (default: ${DEFAULT-VALUE}).")
  Duration heartbeat;

  @Option(
      names = "--consumer-timeout",
      defaultValue = "30m",
      converter = Durations.class,
      description =
          "The broker's consumer_timeout; deadlines beyond it are warned about (default:"
              + " ${DEFAULT-VALUE}).")
  Duration consumerTimeout;

  @Option(
      names = "--events",
      defaultValue = "all",
      paramLabel = "all|final|none",
      converter = EventLevelConverter.class,
      description =
          "Task events to publish: all; final (outcomes, no task.running: enough for producer"
              + " --wait and control stop); none (only requeued after a lost connection, which"
              + " other workers need). Worker events and command answers are always published"
              + " (default: ${DEFAULT-VALUE}).")
  EventLevel events;

  @Option(
      names = "--isolation",
      defaultValue = "thread",
      paramLabel = "thread|process",
      converter = IsolationConverter.class,
      description =
          "Where Java handlers run: thread (the worker's task threads) or process (a pool of child"
              + " JVMs, one task at a time each: a kill or a crash ends one child, not the worker;"
              + " exec tasks run in the worker either way). See docs/isolation.md (default:"
              + " ${DEFAULT-VALUE}).")
  Isolation isolation;

  @Option(
      names = "--child-heap",
      paramLabel = "SIZE",
      description =
          "Heap (-Xmx) of each child JVM under --isolation process, e.g. 256m (default: the"
              + " JVM's own). A child that runs out ends its task failed (out-of-memory).")
  String childHeap;

  @Option(
      names = "--max-tasks-per-child",
      defaultValue = "0",
      paramLabel = "N",
      description =
          "Replace a child JVM after N tasks, under --isolation process (default: 0 = never).")
  int maxTasksPerChild;

  /** thread or process; anything else is a usage error naming the choices. */
  static final class IsolationConverter implements CommandLine.ITypeConverter<Isolation> {
    @Override
    public Isolation convert(String value) {
      for (Isolation i : Isolation.values()) {
        if (i.word().equals(value)) {
          return i;
        }
      }
      throw new CommandLine.TypeConversionException(
          "'" + value + "' is not one of thread, process");
    }
  }

  /** all, final or none; anything else is a usage error naming the choices. */
  static final class EventLevelConverter implements CommandLine.ITypeConverter<EventLevel> {
    @Override
    public EventLevel convert(String value) {
      for (EventLevel level : EventLevel.values()) {
        if (level.word().equals(value)) {
          return level;
        }
      }
      throw new CommandLine.TypeConversionException(
          "'" + value + "' is not one of all, final, none");
    }
  }

  @Override
  public Integer call() throws Exception {
    WorkerConfig config = config();
    // Signals first: a SIGTERM that arrives while the worker starts must still be graceful.
    AtomicReference<Worker> started = new AtomicReference<>();
    AtomicBoolean stopRequested = new AtomicBoolean();
    TerminationSignals.install(
        () -> {
          stopRequested.set(true);
          Worker w = started.get();
          if (w != null) {
            w.close();
          }
        },
        () -> {
          Worker w = started.get();
          if (w != null) {
            w.skipGrace();
          }
        });
    Worker worker = Worker.start(config);
    started.set(worker);
    if (stopRequested.get()) {
      worker.close();
    }
    worker.awaitClosed();
    return worker.exitCode();
  }

  /**
   * The configuration {@code bin/worker <flags>} would run with, on {@code broker} (flags naming a
   * broker are overridden): for in-process workers that an embedding program or a benchmark sets as
   * an operator would ({@code --prefetch 64 --events final}).
   *
   * @throws UsageException (exit 2) naming the flag the worker refuses
   */
  public static WorkerConfig configFromFlags(BrokerSettings broker, List<String> flags) {
    WorkerMain main = new WorkerMain();
    try {
      new CommandLine(main)
          .setCaseInsensitiveEnumValuesAllowed(true)
          .parseArgs(flags.toArray(String[]::new));
    } catch (CommandLine.ParameterException e) {
      throw new UsageException(e.getMessage());
    }
    return main.config().withBroker(broker);
  }

  /**
   * Checks every flag and builds the configuration.
   *
   * @throws UsageException (exit 2) naming the flag and what it allows
   */
  WorkerConfig config() {
    checkFlags();
    WorkerConfig config =
        WorkerConfig.defaults(broker.settings())
            .withQueues(queues)
            .withConcurrency(concurrency)
            .withPrefetch(prefetch == null ? 0 : prefetch)
            .withShutdownGrace(shutdownGrace)
            .withKillGrace(killGrace)
            .withExecAllow(execAllow)
            .withExecEnvAllow(execEnvAllow)
            .withExecCwdAllow(execCwdAllow)
            .withHandlersDir(Optional.ofNullable(handlers))
            .withMetricsPort(metricsPort)
            .withMetricsBind(metricsBind)
            .withDefaultTimeout(Optional.ofNullable(defaultTimeout))
            .withDefaultGrace(defaultGrace)
            .withRetryDelay(retryDelay)
            .withMaxPayloadBytes(maxPayload)
            .withHeartbeat(heartbeat)
            .withConsumerTimeout(consumerTimeout)
            .withEvents(events)
            .withIsolation(isolation)
            .withChildHeap(Optional.ofNullable(childHeap))
            .withMaxTasksPerChild(maxTasksPerChild)
            .withExit(code -> {});
    return name == null ? config : config.withName(name);
  }

  /**
   * A value the worker would accept and then misuse (every task dead-lettered as too large or timed
   * out, a heartbeat that floods the broker) is refused before anything starts.
   */
  private void checkFlags() {
    for (String q : queues) {
      try {
        Names.checkQueueName(q);
      } catch (IllegalArgumentException e) {
        throw new UsageException("--queues: " + e.getMessage());
      }
    }
    between("--concurrency", concurrency, 1, WorkerConfig.MAX_CONCURRENCY, "");
    if (prefetch != null) {
      between(
          "--prefetch",
          prefetch,
          concurrency,
          WorkerConfig.MAX_PREFETCH,
          " (at least --concurrency)");
    }
    if (name != null
        && (name.isBlank() || name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES)) {
      throw new UsageException("--name must be 1-" + MAX_NAME_BYTES + " characters, not blank");
    }
    if (metricsPort == -1
        && spec.commandLine().getParseResult().hasMatchedOption("--metrics-bind")) {
      throw new UsageException("--metrics-bind needs --metrics-port");
    }
    if (metricsPort != -1) {
      between("--metrics-port", metricsPort, 0, 65_535, " (0 = any free port)");
    }
    between(
        "--max-payload", maxPayload, 1, MAX_PAYLOAD, " bytes (RabbitMQ's own limit is 512 MiB)");
    duration("--shutdown-grace", shutdownGrace, Duration.ZERO);
    duration("--kill-grace", killGrace, Duration.ofMillis(1));
    if (defaultTimeout != null) {
      duration("--default-timeout", defaultTimeout, Duration.ofMillis(1));
    }
    duration("--default-grace", defaultGrace, Duration.ZERO);
    duration("--retry-delay", retryDelay, Duration.ZERO);
    duration("--heartbeat", heartbeat, Duration.ofMillis(100));
    duration("--consumer-timeout", consumerTimeout, Duration.ofSeconds(1));
    if (childHeap != null && !WorkerConfig.HEAP_SIZE.matcher(childHeap).matches()) {
      throw new UsageException("--child-heap must be a size with a unit, like 256m or 2g");
    }
    between("--max-tasks-per-child", maxTasksPerChild, 0, Integer.MAX_VALUE, " (0 = never)");
    var parsed = spec.commandLine().getParseResult();
    if (isolation != Isolation.PROCESS
        && (parsed.hasMatchedOption("--child-heap")
            || parsed.hasMatchedOption("--max-tasks-per-child"))) {
      throw new UsageException("--child-heap and --max-tasks-per-child need --isolation process");
    }
  }

  private static void between(String flag, long value, long min, long max, String unit) {
    if (value < min || value > max) {
      throw new UsageException(flag + " must be between " + min + " and " + max + unit);
    }
  }

  private static void duration(String flag, Duration value, Duration min) {
    if (value.compareTo(min) < 0) {
      throw new UsageException(
          flag + " must be at least " + (min.isZero() ? "0s" : Durations.format(min)));
    }
    if (value.compareTo(MAX_DURATION) > 0) {
      throw new UsageException(flag + " must be at most " + MAX_DURATION.toDays() + "d");
    }
  }

  public static void main(String[] args) {
    Cli.main(new WorkerMain(), args);
  }
}
