package dev.conveyor.worker;

import dev.conveyor.protocol.HostName;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.worker.handlers.ExecPolicy;
import dev.conveyor.worker.isolation.Isolation;
import dev.conveyor.worker.messaging.EventLevel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.function.IntConsumer;

/**
 * Everything a worker is told at start. Immutable; {@link #defaults} gives the documented defaults
 * and the {@code with…} methods change one setting each.
 *
 * @param broker where the broker is
 * @param name how control targets this worker; unique per process
 * @param queues task queues to consume
 * @param concurrency tasks run at once
 * @param prefetch deliveries held at once, running or waiting for a thread (at least {@code
 *     concurrency}); 0 = as many as {@code concurrency}
 * @param shutdownGrace how long SIGTERM lets running tasks finish
 * @param killGrace how long a killed task may take to end before the worker ends itself
 * @param execAllow programs the exec type may run
 * @param execEnvAllow environment variables an exec task may set
 * @param execCwdAllow directories an exec task may run in (or below)
 * @param handlersDir jars with user handlers
 * @param metricsPort port of /metrics and /health; 0 = any free port, -1 = off
 * @param metricsBind address /metrics and /health listen on; loopback unless told otherwise
 * @param defaultTimeout deadline for tasks that set none
 * @param defaultGrace grace between stop and kill for tasks that set none
 * @param retryDelay wait before a failed or timed-out task runs again
 * @param maxPayloadBytes larger task bodies are rejected
 * @param heartbeat interval of worker.heartbeat events
 * @param consumerTimeout the broker's delivery acknowledgement timeout
 * @param events which task events are published (worker events and command answers always are)
 * @param isolation where Java handlers run: on task threads, or in child JVMs (docs/isolation.md)
 * @param childHeap {@code -Xmx} of each child JVM (e.g. {@code 256m}); empty for the JVM default
 * @param maxTasksPerChild a child JVM is replaced after this many tasks; 0 = never
 * @param exit told the exit code when the worker ends itself because a task could not be killed
 *     (70); {@code bin/worker} makes it the process's exit status. The default does nothing: an
 *     embedded worker never ends the JVM that hosts it (see also {@link Worker#exitCode})
 */
public record WorkerConfig(
    BrokerSettings broker,
    String name,
    List<String> queues,
    int concurrency,
    int prefetch,
    Duration shutdownGrace,
    Duration killGrace,
    List<Path> execAllow,
    List<String> execEnvAllow,
    List<Path> execCwdAllow,
    Optional<Path> handlersDir,
    int metricsPort,
    String metricsBind,
    Optional<Duration> defaultTimeout,
    Duration defaultGrace,
    Duration retryDelay,
    long maxPayloadBytes,
    Duration heartbeat,
    Duration consumerTimeout,
    EventLevel events,
    Isolation isolation,
    Optional<String> childHeap,
    int maxTasksPerChild,
    IntConsumer exit) {

  /** A heap size as {@code -Xmx} takes it: digits and a unit (k, m or g). */
  public static final java.util.regex.Pattern HEAP_SIZE =
      java.util.regex.Pattern.compile("[1-9][0-9]{0,9}[kKmMgG]");

  public static final int MAX_CONCURRENCY = 1000;

  /** The most deliveries one consumer holds; beyond it a slow worker only hoards tasks. */
  public static final int MAX_PREFETCH = 10_000;

  /** Deliveries held at once: {@link #prefetch}, or {@link #concurrency} when that is 0. */
  public int effectivePrefetch() {
    return prefetch == 0 ? concurrency : prefetch;
  }

  /** Metrics and health say what runs where: not for every network the host is on by default. */
  public static final String DEFAULT_METRICS_BIND = "127.0.0.1";

  public WorkerConfig {
    // A queue listed twice is consumed once: two consumers would hold twice the prefetch.
    queues = List.copyOf(new LinkedHashSet<>(queues));
    execAllow = List.copyOf(execAllow);
    execEnvAllow = List.copyOf(execEnvAllow);
    execCwdAllow = List.copyOf(execCwdAllow);
    if (queues.isEmpty()) {
      throw new IllegalArgumentException("at least one queue is needed");
    }
    queues.forEach(dev.conveyor.protocol.topology.Names::checkQueueName);
    if (concurrency < 1 || concurrency > MAX_CONCURRENCY) {
      throw new IllegalArgumentException("concurrency must be between 1 and " + MAX_CONCURRENCY);
    }
    if (prefetch != 0 && (prefetch < concurrency || prefetch > MAX_PREFETCH)) {
      throw new IllegalArgumentException(
          "prefetch must be between concurrency (" + concurrency + ") and " + MAX_PREFETCH);
    }
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("worker name must not be empty");
    }
    // An embedding application gets the same refusals as the command line, in its own words.
    positive("heartbeat", heartbeat);
    positive("killGrace", killGrace);
    positive("consumerTimeout", consumerTimeout);
    defaultTimeout.ifPresent(t -> positive("defaultTimeout", t));
    notNegative("shutdownGrace", shutdownGrace);
    notNegative("defaultGrace", defaultGrace);
    notNegative("retryDelay", retryDelay);
    if (maxPayloadBytes < 1) {
      throw new IllegalArgumentException("maxPayloadBytes must be at least 1");
    }
    if (events == null) {
      throw new IllegalArgumentException("events must name a level");
    }
    if (isolation == null) {
      throw new IllegalArgumentException("isolation must be thread or process");
    }
    if (childHeap.isPresent() && !HEAP_SIZE.matcher(childHeap.get()).matches()) {
      throw new IllegalArgumentException(
          "childHeap must be a size with a unit, like 256m or 2g: " + childHeap.get());
    }
    if (maxTasksPerChild < 0) {
      throw new IllegalArgumentException("maxTasksPerChild must not be negative");
    }
    if (metricsBind == null || metricsBind.isBlank()) {
      throw new IllegalArgumentException("metricsBind must name an address");
    }
    if (metricsPort < -1 || metricsPort > 65_535) {
      throw new IllegalArgumentException("metricsPort must be -1 (off) or between 0 and 65535");
    }
  }

  private static void positive(String setting, Duration value) {
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(setting + " must be positive: " + value);
    }
  }

  private static void notNegative(String setting, Duration value) {
    if (value.isNegative()) {
      throw new IllegalArgumentException(setting + " must not be negative: " + value);
    }
  }

  public static WorkerConfig defaults(BrokerSettings broker) {
    return new WorkerConfig(
        broker,
        defaultName(),
        List.of("default"),
        4,
        0,
        Duration.ofSeconds(30),
        Duration.ofSeconds(5),
        List.of(),
        List.of(),
        List.of(),
        Optional.empty(),
        -1,
        DEFAULT_METRICS_BIND,
        Optional.empty(),
        Duration.ofSeconds(5),
        Duration.ZERO,
        1024 * 1024,
        Duration.ofSeconds(10),
        Duration.ofMinutes(30),
        EventLevel.ALL,
        Isolation.THREAD,
        Optional.empty(),
        0,
        code -> {});
  }

  /** host-pid: unique on a host, recognisable in {@code control status}. */
  public static String defaultName() {
    return host() + "-" + ProcessHandle.current().pid();
  }

  public static String host() {
    return HostName.get();
  }

  public WorkerConfig withBroker(BrokerSettings value) {
    return change(b -> b.broker = value);
  }

  public WorkerConfig withName(String value) {
    return change(b -> b.name = value);
  }

  public WorkerConfig withQueues(List<String> value) {
    return change(b -> b.queues = value);
  }

  public WorkerConfig withConcurrency(int value) {
    return change(b -> b.concurrency = value);
  }

  /** 0 = as many as the concurrency. */
  public WorkerConfig withPrefetch(int value) {
    return change(b -> b.prefetch = value);
  }

  public WorkerConfig withShutdownGrace(Duration value) {
    return change(b -> b.shutdownGrace = value);
  }

  public WorkerConfig withKillGrace(Duration value) {
    return change(b -> b.killGrace = value);
  }

  public WorkerConfig withExecAllow(List<Path> value) {
    return change(b -> b.execAllow = value);
  }

  public WorkerConfig withExecEnvAllow(List<String> value) {
    return change(b -> b.execEnvAllow = value);
  }

  public WorkerConfig withExecCwdAllow(List<Path> value) {
    return change(b -> b.execCwdAllow = value);
  }

  /**
   * What exec tasks may ask for.
   *
   * @throws IllegalArgumentException for a relative path or a malformed variable name
   */
  public ExecPolicy execPolicy() {
    return new ExecPolicy(execAllow, execEnvAllow, execCwdAllow);
  }

  public WorkerConfig withHandlersDir(Optional<Path> value) {
    return change(b -> b.handlersDir = value);
  }

  public WorkerConfig withMetricsPort(int value) {
    return change(b -> b.metricsPort = value);
  }

  public WorkerConfig withMetricsBind(String value) {
    return change(b -> b.metricsBind = value);
  }

  public WorkerConfig withDefaultTimeout(Optional<Duration> value) {
    return change(b -> b.defaultTimeout = value);
  }

  public WorkerConfig withDefaultGrace(Duration value) {
    return change(b -> b.defaultGrace = value);
  }

  public WorkerConfig withRetryDelay(Duration value) {
    return change(b -> b.retryDelay = value);
  }

  public WorkerConfig withMaxPayloadBytes(long value) {
    return change(b -> b.maxPayloadBytes = value);
  }

  public WorkerConfig withHeartbeat(Duration value) {
    return change(b -> b.heartbeat = value);
  }

  public WorkerConfig withConsumerTimeout(Duration value) {
    return change(b -> b.consumerTimeout = value);
  }

  public WorkerConfig withEvents(EventLevel value) {
    return change(b -> b.events = value);
  }

  public WorkerConfig withIsolation(Isolation value) {
    return change(b -> b.isolation = value);
  }

  public WorkerConfig withChildHeap(Optional<String> value) {
    return change(b -> b.childHeap = value);
  }

  /** 0 = never replace a child for the number of tasks it ran. */
  public WorkerConfig withMaxTasksPerChild(int value) {
    return change(b -> b.maxTasksPerChild = value);
  }

  public WorkerConfig withExit(IntConsumer value) {
    return change(b -> b.exit = value);
  }

  private WorkerConfig change(java.util.function.Consumer<Copy> edit) {
    Copy copy = new Copy(this);
    edit.accept(copy);
    return copy.build();
  }

  /** A mutable copy, so that each {@code with…} names only the setting it changes. */
  private static final class Copy {
    private BrokerSettings broker;
    private String name;
    private List<String> queues;
    private int concurrency;
    private int prefetch;
    private Duration shutdownGrace;
    private Duration killGrace;
    private List<Path> execAllow;
    private List<String> execEnvAllow;
    private List<Path> execCwdAllow;
    private Optional<Path> handlersDir;
    private int metricsPort;
    private String metricsBind;
    private Optional<Duration> defaultTimeout;
    private Duration defaultGrace;
    private Duration retryDelay;
    private long maxPayloadBytes;
    private Duration heartbeat;
    private Duration consumerTimeout;
    private EventLevel events;
    private Isolation isolation;
    private Optional<String> childHeap;
    private int maxTasksPerChild;
    private IntConsumer exit;

    Copy(WorkerConfig c) {
      broker = c.broker();
      name = c.name();
      queues = c.queues();
      concurrency = c.concurrency();
      prefetch = c.prefetch();
      shutdownGrace = c.shutdownGrace();
      killGrace = c.killGrace();
      execAllow = c.execAllow();
      execEnvAllow = c.execEnvAllow();
      execCwdAllow = c.execCwdAllow();
      handlersDir = c.handlersDir();
      metricsPort = c.metricsPort();
      metricsBind = c.metricsBind();
      defaultTimeout = c.defaultTimeout();
      defaultGrace = c.defaultGrace();
      retryDelay = c.retryDelay();
      maxPayloadBytes = c.maxPayloadBytes();
      heartbeat = c.heartbeat();
      consumerTimeout = c.consumerTimeout();
      events = c.events();
      isolation = c.isolation();
      childHeap = c.childHeap();
      maxTasksPerChild = c.maxTasksPerChild();
      exit = c.exit();
    }

    WorkerConfig build() {
      return new WorkerConfig(
          broker,
          name,
          queues,
          concurrency,
          prefetch,
          shutdownGrace,
          killGrace,
          execAllow,
          execEnvAllow,
          execCwdAllow,
          handlersDir,
          metricsPort,
          metricsBind,
          defaultTimeout,
          defaultGrace,
          retryDelay,
          maxPayloadBytes,
          heartbeat,
          consumerTimeout,
          events,
          isolation,
          childHeap,
          maxTasksPerChild,
          exit);
    }
  }
}
