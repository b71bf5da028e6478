package dev.conveyor.worker;

import dev.conveyor.protocol.broker.BrokerSettings;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
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
 * @param concurrency tasks run at once; also the prefetch
 * @param shutdownGrace how long SIGTERM lets running tasks finish
 * @param killGrace how long a killed task may take to end before the worker ends itself
 * @param execAllow programs the exec type may run
 * @param handlersDir jars with user handlers
 * @param metricsPort port of /metrics and /health; 0 = any free port, -1 = off
 * @param defaultTimeout deadline for tasks that set none
 * @param defaultGrace grace between stop and kill for tasks that set none
 * @param retryDelay wait before a failed or timed-out task runs again
 * @param maxPayloadBytes larger task bodies are rejected
 * @param heartbeat interval of worker.heartbeat events
 * @param consumerTimeout the broker's delivery acknowledgement timeout
 * @param exit ends the process; tests replace it
 */
public record WorkerConfig(
    BrokerSettings broker,
    String name,
    List<String> queues,
    int concurrency,
    Duration shutdownGrace,
    Duration killGrace,
    List<Path> execAllow,
    Optional<Path> handlersDir,
    int metricsPort,
    Optional<Duration> defaultTimeout,
    Duration defaultGrace,
    Duration retryDelay,
    long maxPayloadBytes,
    Duration heartbeat,
    Duration consumerTimeout,
    IntConsumer exit) {

  public WorkerConfig {
    queues = List.copyOf(queues);
    execAllow = List.copyOf(execAllow);
    if (queues.isEmpty()) {
      throw new IllegalArgumentException("at least one queue is needed");
    }
    queues.forEach(dev.conveyor.protocol.topology.Names::checkQueueName);
    if (concurrency < 1 || concurrency > 1000) {
      throw new IllegalArgumentException("concurrency must be between 1 and 1000");
    }
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("worker name must not be empty");
    }
  }

  public static WorkerConfig defaults(BrokerSettings broker) {
    return new WorkerConfig(
        broker,
        defaultName(),
        List.of("default"),
        4,
        Duration.ofSeconds(30),
        Duration.ofSeconds(5),
        List.of(),
        Optional.empty(),
        -1,
        Optional.empty(),
        Duration.ofSeconds(5),
        Duration.ZERO,
        1024 * 1024,
        Duration.ofSeconds(10),
        Duration.ofMinutes(30),
        System::exit);
  }

  /** host-pid: unique on a host, recognisable in {@code control status}. */
  public static String defaultName() {
    return host() + "-" + ProcessHandle.current().pid();
  }

  public static String host() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return ManagementFactory.getRuntimeMXBean().getName();
    }
  }

  public WorkerConfig withBroker(BrokerSettings value) {
    return new WorkerConfig(
        value,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withName(String value) {
    return new WorkerConfig(
        broker,
        value,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withQueues(List<String> value) {
    return new WorkerConfig(
        broker,
        name,
        value,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withConcurrency(int value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        value,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withShutdownGrace(Duration value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        value,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withKillGrace(Duration value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        value,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withExecAllow(List<Path> value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        value,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withHandlersDir(Optional<Path> value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        value,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withMetricsPort(int value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        value,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withDefaultTimeout(Optional<Duration> value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        value,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withDefaultGrace(Duration value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        value,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withRetryDelay(Duration value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        value,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withMaxPayloadBytes(long value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        value,
        heartbeat,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withHeartbeat(Duration value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        value,
        consumerTimeout,
        exit);
  }

  public WorkerConfig withConsumerTimeout(Duration value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        value,
        exit);
  }

  public WorkerConfig withExit(IntConsumer value) {
    return new WorkerConfig(
        broker,
        name,
        queues,
        concurrency,
        shutdownGrace,
        killGrace,
        execAllow,
        handlersDir,
        metricsPort,
        defaultTimeout,
        defaultGrace,
        retryDelay,
        maxPayloadBytes,
        heartbeat,
        consumerTimeout,
        value);
  }
}
