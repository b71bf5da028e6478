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
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

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
  private final java.time.Duration consumerTimeout;
  private final LostLeases lostLeases;

  /**
   * @param lostLeases deliveries this worker lost with its connection, not counted as attempts
   */
  public TaskIntake(
      HandlerRegistry handlers,
      Revocations revocations,
      RunningTasks running,
      TaskRunner runner,
      Settler settler,
      long maxPayloadBytes,
      java.time.Duration consumerTimeout,
      LostLeases lostLeases) {
    this.lostLeases = lostLeases;
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
    Optional<TaskHandler> handler = handlers.find(task.type());
    if (handler.isEmpty()) {
      reject(lease, task.id(), task.type(), "unknown type '" + task.type() + "'");
      return;
    }
    int attempt = attemptOf(lease) - lostLeases.forgiven(task.id(), lease);
    TaskRun run = new TaskRun(task, lease, attempt, handler.get());
    running.add(run);
    Optional<Revocations.Revocation> revoked = revocations.find(task.id());
    if (revoked.isPresent()) {
      settler.settle(run, new Outcome.Cancelled(Cause.REVOKED, revoked.get().issuedBy()));
    } else if (task.expiresAt() != null && task.expiresAt().isBefore(Instant.now())) {
      settler.settle(run, new Outcome.Expired("expired at " + task.expiresAt()));
    } else if (run.attempt() > run.maxAttempts()) {
      settler.settle(
          run,
          new Outcome.AttemptsExhausted(
              "delivered "
                  + run.attempt()
                  + " times; earlier deliveries were lost with their worker"
                  + " (max attempts "
                  + run.maxAttempts()
                  + ")"));
    } else {
      BrokerLease.exceeded(task, consumerTimeout)
          .ifPresent(why -> log.warn("task {} ({}): {}", task.id(), task.type(), why));
      runner.submit(run);
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
