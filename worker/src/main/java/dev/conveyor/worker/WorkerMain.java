package dev.conveyor.worker;

import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.ExitCodes;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code worker}: consumes tasks until SIGTERM.
 *
 * <p>Its flags are built with picocli's programmatic API rather than annotations: reading
 * annotations goes through reflection and annotation proxies, classes that no cache keeps, and the
 * worker's start paid for them in every launch (docs/benchmarks.md).
 */
public final class WorkerMain implements Callable<Integer> {

  private static final Duration MAX_DURATION = Duration.ofDays(365);

  /** RabbitMQ refuses larger messages whatever its configuration. */
  private static final long MAX_PAYLOAD = 512L * 1024 * 1024;

  /** The name is part of queue names, which the broker limits to 255 bytes. */
  private static final int MAX_NAME_BYTES = 100;

  private final CommandSpec spec = CommandSpec.wrapWithoutInspection(this);

  private final Supplier<BrokerSettings> broker = BrokerOptions.addTo(spec);

  private final OptionSpec queues =
      add(
          list("--queues", "Q[,Q…]", String.class)
              .defaultValue("default")
              .description("Task queues to consume (default: ${DEFAULT-VALUE})."));

  private final OptionSpec concurrency =
      add(
          flag("--concurrency", "<concurrency>", int.class)
              .defaultValue("4")
              .description("Tasks run at once (default: ${DEFAULT-VALUE})."));

  private final OptionSpec prefetch =
      add(
          flag("--prefetch", "<prefetch>", Integer.class)
              .description(
                  "Deliveries held at once, running or waiting for a thread; at least"
                      + " --concurrency (default: as many as --concurrency). More lets short tasks"
                      + " start without waiting for the broker; a waiting task has no deadline yet"
                      + " and is handed back at once on SIGTERM."));

  private final OptionSpec name =
      add(
          flag("--name", "<name>", String.class)
              .description("Worker name for control targets (default: host-pid)."));

  private final OptionSpec metricsPort =
      add(
          flag("--metrics-port", "<metricsPort>", int.class)
              .defaultValue("-1")
              .description(
                  "Serve /metrics and /health on this port (0 = any free port; default: off)."));

  private final OptionSpec metricsBind =
      add(
          flag("--metrics-bind", "ADDR", String.class)
              .defaultValue(WorkerConfig.DEFAULT_METRICS_BIND)
              .description(
                  "Address /metrics and /health listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 ="
                      + " every interface)."));

  private final OptionSpec shutdownGrace =
      add(
          duration("--shutdown-grace", "<shutdownGrace>")
              .defaultValue("30s")
              .description(
                  "How long SIGTERM lets running tasks finish (default: ${DEFAULT-VALUE})."));

  private final OptionSpec killGrace =
      add(
          duration("--kill-grace", "<killGrace>")
              .defaultValue("5s")
              .description(
                  "How long a killed task may take to end before the worker exits 70 (default:"
                      + " ${DEFAULT-VALUE})."));

  private final OptionSpec execAllow =
      add(
          list("--exec-allow", "PROGRAM[,…]", Path.class)
              .description("Programs (absolute paths) the exec type may run; none by default."));

  private final OptionSpec execEnvAllow =
      add(
          list("--exec-env-allow", "VAR[,…]", String.class)
              .description(
                  "Environment variables an exec task's env may set; none by default (a task that"
                      + " sets another is rejected)."));

  private final OptionSpec execCwdAllow =
      add(
          list("--exec-cwd-allow", "DIR[,…]", Path.class)
              .description(
                  "Directories (absolute) an exec task's cwd must be in; none by default (a task"
                      + " with a cwd is rejected)."));

  private final OptionSpec handlers =
      add(
          flag("--handlers", "JAR_DIR", Path.class)
              .description("Load user task handlers from the jars in this directory."));

  private final OptionSpec defaultTimeout =
      add(
          duration("--default-timeout", "<defaultTimeout>")
              .description("Deadline for tasks that set no timeoutMs (default: none)."));

  private final OptionSpec defaultGrace =
      add(
          duration("--default-grace", "<defaultGrace>")
              .defaultValue("5s")
              .description(
                  "Grace between stop and kill for tasks that set no graceMs (default:"
                      + " ${DEFAULT-VALUE})."));

  private final OptionSpec retryDelay =
      add(
          duration("--retry-delay", "<retryDelay>")
              .defaultValue("0s")
              .description(
                  "Wait before a failed or timed-out task runs again (default:"
                      + " ${DEFAULT-VALUE})."));

  private final OptionSpec maxPayload =
      add(
          flag("--max-payload", "BYTES", long.class)
              .defaultValue("1048576")
              .description("Larger task bodies are rejected (default: ${DEFAULT-VALUE})."));

  private final OptionSpec heartbeat =
      add(
          duration("--heartbeat", "<heartbeat>")
              .defaultValue("10s")
              .description("Interval of worker.heartbeat events (default: ${DEFAULT-VALUE})."));

  private final OptionSpec consumerTimeout =
      add(
          duration("--consumer-timeout", "<consumerTimeout>")
              .defaultValue("30m")
              .description(
                  "The broker's consumer_timeout; deadlines beyond it are warned about (default:"
                      + " ${DEFAULT-VALUE})."));

  private final OptionSpec events =
      add(
          flag("--events", "all|final|none", EventLevel.class)
              .defaultValue("all")
              .converters(new EventLevelConverter())
              .description(
                  "Task events to publish: all; final (outcomes, no task.running: enough for"
                      + " producer --wait and control stop); none (only requeued after a lost"
                      + " connection, which other workers need). Worker events and command"
                      + " answers are always published (default: ${DEFAULT-VALUE})."));

  private final OptionSpec isolation =
      add(
          flag("--isolation", "thread|process", Isolation.class)
              .defaultValue("thread")
              .converters(new IsolationConverter())
              .description(
                  "Where Java handlers run: thread (the worker's task threads) or process (a pool"
                      + " of child JVMs, one task at a time each: a kill or a crash ends one child,"
                      + " not the worker; exec tasks run in the worker either way). See"
                      + " docs/isolation.md (default: ${DEFAULT-VALUE})."));

  private final OptionSpec childHeap =
      add(
          flag("--child-heap", "SIZE", String.class)
              .description(
                  "Heap (-Xmx) of each child JVM under --isolation process, e.g. 256m (default:"
                      + " the JVM's own). A child that runs out ends its task failed"
                      + " (out-of-memory)."));

  private final OptionSpec maxTasksPerChild =
      add(
          flag("--max-tasks-per-child", "N", int.class)
              .defaultValue("0")
              .description(
                  "Replace a child JVM after N tasks, under --isolation process (default: 0 ="
                      + " never)."));

  public WorkerMain() {
    // After the flags: help and version come last.
    Cli.standardHelpOptions(spec.name("worker").version("conveyor worker 0.1.0"));
    spec.usageMessage()
        .sortOptions(false)
        .description(
            "Consumes tasks from RabbitMQ and runs them; obeys stop/kill/pause/resume/status"
                + " broadcasts and enforces task deadlines.",
            "SIGTERM: stop taking tasks, let running ones finish within --shutdown-grace, requeue"
                + " the rest, exit 0. A second SIGTERM/SIGINT skips the wait.",
            "Exit codes: 0 ok, 2 usage, 3 broker unreachable, 70 a task could not be killed.");
  }

  /** The command, for {@link Cli#commandLine}. */
  public CommandSpec spec() {
    return spec;
  }

  private OptionSpec add(OptionSpec.Builder option) {
    OptionSpec built = option.build();
    spec.addOption(built);
    return built;
  }

  private static OptionSpec.Builder flag(String name, String label, Class<?> type) {
    return OptionSpec.builder(name).paramLabel(label).type(type);
  }

  private static OptionSpec.Builder duration(String name, String label) {
    return flag(name, label, Duration.class).converters(new Durations());
  }

  /** A flag that takes comma-separated values and may be repeated. */
  private static OptionSpec.Builder list(String name, String label, Class<?> element) {
    return flag(name, label, List.class).auxiliaryTypes(element).splitRegex(",");
  }

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
    CountDownLatch stopRequested = new CountDownLatch(1);
    TerminationSignals.install(
        () -> {
          stopRequested.countDown();
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
    // A start that waits for the broker (its connection was lost midway) gives up on a SIGTERM.
    Optional<Worker> start = Worker.start(config, stopRequested, Worker.StartProbe.NONE);
    if (start.isEmpty()) {
      return ExitCodes.OK;
    }
    Worker worker = start.get();
    Cli.workDone();
    started.set(worker);
    if (stopRequested.getCount() == 0) {
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
      new CommandLine(main.spec)
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
    Integer prefetchValue = prefetch.getValue();
    WorkerConfig config =
        WorkerConfig.defaults(broker.get())
            .withQueues(queues.getValue())
            .withConcurrency(concurrency.<Integer>getValue())
            .withPrefetch(prefetchValue == null ? 0 : prefetchValue)
            .withShutdownGrace(shutdownGrace.getValue())
            .withKillGrace(killGrace.getValue())
            .withExecAllow(orEmpty(execAllow))
            .withExecEnvAllow(orEmpty(execEnvAllow))
            .withExecCwdAllow(orEmpty(execCwdAllow))
            .withHandlersDir(Optional.ofNullable(handlers.getValue()))
            .withMetricsPort(metricsPort.<Integer>getValue())
            .withMetricsBind(metricsBind.getValue())
            .withDefaultTimeout(Optional.ofNullable(defaultTimeout.getValue()))
            .withDefaultGrace(defaultGrace.getValue())
            .withRetryDelay(retryDelay.getValue())
            .withMaxPayloadBytes(maxPayload.<Long>getValue())
            .withHeartbeat(heartbeat.getValue())
            .withConsumerTimeout(consumerTimeout.getValue())
            .withEvents(events.getValue())
            .withIsolation(isolation.getValue())
            .withChildHeap(Optional.ofNullable(childHeap.getValue()))
            .withMaxTasksPerChild(maxTasksPerChild.<Integer>getValue())
            .withExit(code -> {});
    String chosen = name.getValue();
    return chosen == null ? config : config.withName(chosen);
  }

  private static <T> List<T> orEmpty(OptionSpec list) {
    List<T> values = list.getValue();
    return values == null ? List.of() : values;
  }

  /**
   * A value the worker would accept and then misuse (every task dead-lettered as too large or timed
   * out, a heartbeat that floods the broker) is refused before anything starts.
   */
  private void checkFlags() {
    for (String q : queues.<List<String>>getValue()) {
      try {
        Names.checkQueueName(q);
      } catch (IllegalArgumentException e) {
        throw new UsageException("--queues: " + e.getMessage());
      }
    }
    int tasksAtOnce = concurrency.getValue();
    between("--concurrency", tasksAtOnce, 1, WorkerConfig.MAX_CONCURRENCY, "");
    Integer held = prefetch.getValue();
    if (held != null) {
      between(
          "--prefetch", held, tasksAtOnce, WorkerConfig.MAX_PREFETCH, " (at least --concurrency)");
    }
    String chosen = name.getValue();
    if (chosen != null
        && (chosen.isBlank() || chosen.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES)) {
      throw new UsageException("--name must be 1-" + MAX_NAME_BYTES + " characters, not blank");
    }
    int port = metricsPort.getValue();
    var parsed = spec.commandLine().getParseResult();
    if (port == -1 && parsed.hasMatchedOption("--metrics-bind")) {
      throw new UsageException("--metrics-bind needs --metrics-port");
    }
    if (port != -1) {
      between("--metrics-port", port, 0, 65_535, " (0 = any free port)");
    }
    between(
        "--max-payload",
        maxPayload.<Long>getValue(),
        1,
        MAX_PAYLOAD,
        " bytes (RabbitMQ's own limit is 512 MiB)");
    duration("--shutdown-grace", shutdownGrace, Duration.ZERO);
    duration("--kill-grace", killGrace, Duration.ofMillis(1));
    if (defaultTimeout.getValue() != null) {
      duration("--default-timeout", defaultTimeout, Duration.ofMillis(1));
    }
    duration("--default-grace", defaultGrace, Duration.ZERO);
    duration("--retry-delay", retryDelay, Duration.ZERO);
    duration("--heartbeat", heartbeat, Duration.ofMillis(100));
    duration("--consumer-timeout", consumerTimeout, Duration.ofSeconds(1));
    String heap = childHeap.getValue();
    if (heap != null && !WorkerConfig.HEAP_SIZE.matcher(heap).matches()) {
      throw new UsageException("--child-heap must be a size with a unit, like 256m or 2g");
    }
    between(
        "--max-tasks-per-child",
        maxTasksPerChild.<Integer>getValue(),
        0,
        Integer.MAX_VALUE,
        " (0 = never)");
    if (isolation.getValue() != Isolation.PROCESS
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

  private static void duration(String flag, OptionSpec option, Duration min) {
    Duration value = option.getValue();
    if (value.compareTo(min) < 0) {
      throw new UsageException(
          flag + " must be at least " + (min.isZero() ? "0s" : Durations.format(min)));
    }
    if (value.compareTo(MAX_DURATION) > 0) {
      throw new UsageException(flag + " must be at most " + MAX_DURATION.toDays() + "d");
    }
  }

  public static void main(String[] args) {
    Cli.main(new WorkerMain().spec, args);
  }
}
