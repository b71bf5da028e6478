package dev.conveyor.worker;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.worker.execution.RunningTasks;
import dev.conveyor.worker.execution.TaskRun;
import dev.conveyor.worker.messaging.Consumers;
import dev.conveyor.worker.messaging.EventPublisher;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * What a running worker says about itself: whether it is ready ({@code /health}), its status (the
 * {@code status} command), and its {@code worker.*} events (started, heartbeat, reconnected,
 * stopping).
 */
final class Presence {
  private final WorkerConfig config;
  private final String host = WorkerConfig.host();
  private final long pid = ProcessHandle.current().pid();
  private final Instant startedAt = Instant.now();
  private final Connection connection;
  private final Consumers intake;
  private final RunningTasks running;
  private final EventPublisher events;
  private final BooleanSupplier closing;

  Presence(
      WorkerConfig config,
      Connection connection,
      Consumers intake,
      RunningTasks running,
      EventPublisher events,
      BooleanSupplier closing) {
    this.config = config;
    this.connection = connection;
    this.intake = intake;
    this.running = running;
    this.events = events;
    this.closing = closing;
  }

  /** Ready: connected, consuming (unless paused) and not shutting down. */
  boolean ready() {
    return connection.isOpen() && !closing.getAsBoolean() && intake.healthy();
  }

  /** The body of {@code /health}. */
  String health() {
    Map<String, Object> h = new LinkedHashMap<>();
    h.put("status", ready() ? "ready" : "unready");
    h.put("worker", config.name());
    h.put("connected", connection.isOpen());
    h.put("paused", intake.paused());
    h.put("running", running.size());
    return Wire.toJson(h);
  }

  WorkerStatus status() {
    return new WorkerStatus(
        config.name(),
        host,
        pid,
        config.queues(),
        config.concurrency(),
        intake.paused(),
        startedAt,
        running.all().stream().map(TaskRun::status).toList(),
        config.isolation().word());
  }

  /** Announces a worker event that names tasks ({@code worker.stopping}, {@code terminating}…). */
  void announce(String state, List<String> tasks) {
    events.worker(state, tasks, host, pid);
  }

  /**
   * {@code worker.started}, written before the intake starts: the first task may end the worker's
   * process at once (a child that kills its parent), and an announcement still queued would go down
   * with it.
   */
  void announceStarted(Channel channel) {
    events.workerNow(
        channel,
        new WorkerEvent(config.name(), WorkerEvent.STARTED, Instant.now(), List.of(), host, pid));
  }

  /** A {@code worker.heartbeat} with the running tasks' status, unless disconnected. */
  void heartbeat() {
    if (connection.isOpen()) {
      List<TaskRun> runs = running.all();
      events.worker(
          new WorkerEvent(
              config.name(),
              WorkerEvent.HEARTBEAT,
              Instant.now(),
              runs.stream().map(TaskRun::taskId).toList(),
              host,
              pid,
              runs.stream().map(TaskRun::status).toList()));
    }
  }

  /**
   * {@code worker.reconnected}: other workers holding a redelivery past its attempts wait for it.
   */
  void announceReconnected() {
    announce(WorkerEvent.RECONNECTED, running.ids());
  }
}
