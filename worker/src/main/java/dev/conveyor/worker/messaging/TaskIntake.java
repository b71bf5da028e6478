package dev.conveyor.worker.messaging;

import dev.conveyor.protocol.BrokerLease;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.api.TaskHandler;
import dev.conveyor.worker.control.Revocations;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.Outcome;
import dev.conveyor.worker.execution.RunningTasks;
import dev.conveyor.worker.execution.TaskRun;
import dev.conveyor.worker.execution.TaskRunner;
import dev.conveyor.worker.handlers.HandlerRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Decides what happens to a delivered task before it runs: rejected (malformed, unknown type, too
 * large), cancelled (revoked while queued), expired, dead (attempts used up by lost workers), or
 * handed to the runner.
 */
public final class TaskIntake {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TaskIntake.class);

  private final HandlerRegistry handlers;
  private final Revocations revocations;
  private final RunningTasks running;
  private final TaskRunner runner;
  private final Settler settler;
  private final long maxPayloadBytes;
  private final Duration consumerTimeout;
  private final LostLeases lostLeases;
  private final ScheduledExecutorService timer;

  /** How long a redelivery past its attempts waits for word of a lost connection. */
  static final Duration LOST_CONNECTION_WAIT = Duration.ofSeconds(10);

  private static final long LOST_CONNECTION_POLL = 100;

  /**
   * @param lostLeases deliveries lost with a connection, not counted as attempts
   * @param timer where a redelivery past its attempts waits for word of a lost connection (and is
   *     then started, or dead-lettered with a confirmed publish of a few milliseconds)
   */
  public TaskIntake(
      HandlerRegistry handlers,
      Revocations revocations,
      RunningTasks running,
      TaskRunner runner,
      Settler settler,
      long maxPayloadBytes,
      Duration consumerTimeout,
      LostLeases lostLeases,
      ScheduledExecutorService timer) {
    this.lostLeases = lostLeases;
    this.timer = timer;
    this.handlers = handlers;
    this.revocations = revocations;
    this.running = running;
    this.runner = runner;
    this.settler = settler;
    this.maxPayloadBytes = maxPayloadBytes;
    this.consumerTimeout = consumerTimeout;
  }

  public void accept(Lease lease) {
    String messageId = lease.props().getMessageId();
    if (lease.body().length > maxPayloadBytes) {
      reject(
          lease,
          messageId,
          null,
          "payload too large: " + lease.body().length + " bytes, limit " + maxPayloadBytes);
      return;
    }
    TaskMessage task;
    try {
      task = Wire.decodeTask(lease.body(), messageId);
    } catch (MalformedMessageException e) {
      reject(lease, messageId, null, "malformed: " + e.getMessage());
      return;
    }
    Optional<String> badHeader = badCountHeader(lease);
    if (badHeader.isPresent()) {
      reject(lease, task.id(), task.type(), "malformed: " + badHeader.get());
      return;
    }
    Optional<TaskHandler> handler = handlers.find(task.type());
    if (handler.isEmpty()) {
      reject(lease, task.id(), task.type(), "unknown type '" + task.type() + "'");
      return;
    }
    if (deliveryCount(lease) > 0) {
      Optional<TaskRun> stillRunning = running.stillRunningAfterLoss(task.id());
      if (stillRunning.isPresent()) {
        // The broker gave it back while it still runs here: its outcome decides, once it is known.
        TaskHandler h = handler.get();
        stillRunning
            .get()
            .done()
            .whenComplete((o, e) -> timer.execute(() -> acceptRedelivery(task, lease, h)));
        return;
      }
      if (settleKnown(task, lease, handler.get())) {
        return;
      }
    }
    run(task, lease, handler.get());
  }

  private void acceptRedelivery(TaskMessage task, Lease lease, TaskHandler handler) {
    if (!settleKnown(task, lease, handler)) {
      run(task, lease, handler);
    }
  }

  private void run(TaskMessage task, Lease lease, TaskHandler handler) {
    TaskRun run = new TaskRun(task, lease, attempt(task.id(), lease), handler);
    running.add(run);
    Optional<Revocations.Revocation> revoked = revocations.find(task.id());
    if (lease.lost()) {
      // Dispatched after its channel or connection was gone: the broker has it back already.
      if (lease.scope().lostWithConnection()) {
        lostLeases.record(task.id(), lease);
      }
      settler.settle(run, new Outcome.Requeued(Cause.CONNECTION_LOST, null));
    } else if (revoked.isPresent()) {
      settler.settle(run, new Outcome.Cancelled(Cause.REVOKED, revoked.get().issuedBy()));
    } else if (task.expiresAt() != null && task.expiresAt().isBefore(Instant.now())) {
      settler.settle(run, new Outcome.Expired("expired at " + task.expiresAt()));
    } else if (run.attempt() > run.maxAttempts()) {
      awaitLostConnection(run, System.nanoTime() + LOST_CONNECTION_WAIT.toNanos());
    } else {
      start(run);
    }
  }

  /**
   * A redelivery of a message this worker already ran: it is settled with what is known, not run a
   * second time.
   *
   * @return whether it was
   */
  private boolean settleKnown(TaskMessage task, Lease lease, TaskHandler handler) {
    Optional<LostLeases.Known> known = lostLeases.takeKnown(task.id(), attemptsUsed(lease));
    if (known.isEmpty()) {
      return false;
    }
    switch (known.get()) {
      case LostLeases.Known.Settled s -> {
        TaskRun run = new TaskRun(task, lease, attempt(task.id(), lease), handler);
        running.add(run);
        settler.settleRedelivery(run);
      }
      case LostLeases.Known.Finished f -> {
        TaskRun run = new TaskRun(task, lease, f.attempt(), handler);
        running.add(run);
        if (f.copyPublished()) {
          settler.settleRedelivery(run);
        } else {
          log.info(
              "{}: delivered again after it ended here as {}; not run again", run, f.outcome());
          settler.settle(run, f.outcome());
        }
      }
    }
    return true;
  }

  private void start(TaskRun run) {
    TaskMessage task = run.task();
    BrokerLease.exceeded(task, consumerTimeout)
        .ifPresent(why -> log.warn("task {} ({}): {}", task.id(), task.type(), why));
    runner.submit(run);
  }

  /**
   * A redelivery past {@code maxAttempts} may be one that another worker lost with its connection;
   * that worker says so once it has reconnected (within a second or two): in a {@code
   * task.requeued} event for a task it held, in {@code worker.reconnected} for deliveries it never
   * saw (see {@link LostLeases}). So the task is held, unacked and not run, for up to {@link
   * #LOST_CONNECTION_WAIT}: it runs if such word comes, and is dead-lettered as {@code worker-lost}
   * if none does.
   */
  private void awaitLostConnection(TaskRun held, long deadline) {
    if (held.ending() != null || held.leaseLost()) {
      settler.settle(
          held, TaskRunner.decide(held, null, new InterruptedException("ended before it started")));
      return;
    }
    int attempt = attempt(held.taskId(), held.lease());
    if (attempt <= held.maxAttempts()) {
      TaskRun run = new TaskRun(held.task(), held.lease(), attempt, held.handler());
      running.add(run);
      running.remove(held);
      log.info(
          "task {}: a delivery lost with a connection is not counted; attempt {}",
          run.taskId(),
          attempt);
      start(run);
    } else if (System.nanoTime() >= deadline) {
      settler.settle(
          held,
          new Outcome.AttemptsExhausted(
              "delivered "
                  + held.attempt()
                  + " times; earlier deliveries were lost with their worker"
                  + " (max attempts "
                  + held.maxAttempts()
                  + ")"));
    } else {
      timer.schedule(
          () -> awaitLostConnection(held, deadline), LOST_CONNECTION_POLL, TimeUnit.MILLISECONDS);
    }
  }

  private void reject(Lease lease, String id, String type, String reason) {
    TaskMessage placeholder =
        new TaskMessage(
            id == null || id.isBlank() ? Ids.newId() : id,
            type,
            null,
            null,
            null,
            null,
            null,
            null);
    TaskRun run = new TaskRun(placeholder, lease, attemptOf(lease), null);
    running.add(run);
    settler.settle(run, new Outcome.Rejected(reason));
  }

  /**
   * Attempts already used by deliberate retries, plus deliveries the broker counted as returned (a
   * worker that died or lost its connection holding the task), plus this one.
   */
  static int attemptOf(Lease lease) {
    return 1 + attemptsUsed(lease) + deliveryCount(lease);
  }

  /**
   * {@link #attemptOf}, less the deliveries known to have been lost with a connection. Almost every
   * delivery is a first one, which has nothing to forgive: only a returned one asks {@link
   * LostLeases}.
   */
  private int attempt(String taskId, Lease lease) {
    int used = attemptsUsed(lease);
    int counted = deliveryCount(lease);
    return counted == 0
        ? 1 + used
        : 1 + used + counted - lostLeases.forgiven(taskId, used, counted);
  }

  /** Attempts used by deliberate retries, which the retry's copy carries. */
  static int attemptsUsed(Lease lease) {
    Map<String, Object> headers = lease.props().getHeaders();
    return headers == null ? 0 : intHeader(headers.get(Headers.ATTEMPTS_USED));
  }

  /** Deliveries of this message the broker got back unsettled (quorum queues count them). */
  static int deliveryCount(Lease lease) {
    Map<String, Object> headers = lease.props().getHeaders();
    return headers == null ? 0 : intHeader(headers.get(Headers.DELIVERY_COUNT));
  }

  /** A count header that is there but not a whole number, described; nothing when all are fine. */
  static Optional<String> badCountHeader(Lease lease) {
    Map<String, Object> headers = lease.props().getHeaders();
    if (headers == null) {
      return Optional.empty();
    }
    for (String name : List.of(Headers.ATTEMPTS_USED, Headers.DELIVERY_COUNT)) {
      Object value = headers.get(name);
      if (value != null && !isCount(value)) {
        String text = String.valueOf(value);
        return Optional.of(
            "header "
                + name
                + " is not a whole number >= 0: '"
                + (text.length() > 40 ? text.substring(0, 40) + "…" : text)
                + "'");
      }
    }
    return Optional.empty();
  }

  private static boolean isCount(Object value) {
    if (value instanceof Integer
        || value instanceof Long
        || value instanceof Short
        || value instanceof Byte) {
      return ((Number) value).longValue() >= 0;
    }
    try {
      return Long.parseLong(value.toString()) >= 0;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  private static int intHeader(Object value) {
    if (value instanceof Number n) {
      return Math.max(0, n.intValue());
    }
    if (value != null) {
      try {
        return Math.max(0, Integer.parseInt(value.toString()));
      } catch (NumberFormatException e) {
        return 0;
      }
    }
    return 0;
  }
}
