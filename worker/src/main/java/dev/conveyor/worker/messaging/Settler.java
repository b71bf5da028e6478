package dev.conveyor.worker.messaging;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.worker.execution.AckWindow;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.Outcome;
import dev.conveyor.worker.execution.RunningTasks;
import dev.conveyor.worker.execution.TaskRun;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns an attempt's outcome into exactly one settlement of its message — ack, republish for
 * another attempt, or dead-letter — and the events that announce it.
 *
 * <p>A retry or dead letter is a confirmed publish of a copy followed by an ack of the original, so
 * that the copy can carry the attempt count and the reason; a crash between the two can only
 * duplicate a message, never lose it.
 */
public final class Settler {
  private static final Logger log = LoggerFactory.getLogger(Settler.class);

  private final PublishChannel confirms;
  private final Names names;
  private final EventPublisher events;
  private final RunningTasks running;
  private final Duration retryDelay;
  private final String worker;
  private final LostLeases lostLeases;

  /**
   * @param connection where copies are published, with confirms, on a channel of the settler's own
   */
  public Settler(
      Connection connection,
      Topology topology,
      EventPublisher events,
      RunningTasks running,
      Duration retryDelay,
      String worker,
      LostLeases lostLeases)
      throws IOException {
    this.confirms = new PublishChannel(connection, topology, true);
    this.names = topology.names();
    this.events = events;
    this.running = running;
    this.retryDelay = retryDelay;
    this.worker = worker;
    this.lostLeases = lostLeases;
  }

  /**
   * Settles a run once; a second call for the same run does nothing. A task that succeeded or was
   * cancelled may be settled after this returns, on the thread writing the acks ({@link
   * AckWindow#ack(long, AckWindow.Written)}): ack, outcome event, {@link TaskRun#done()}, in that
   * order as always.
   */
  public void settle(TaskRun run, Outcome outcome) {
    if (!run.claimSettlement()) {
      return;
    }
    AckWindow window = run.lease().scope().acks();
    if (window != null && !run.leaseLost() && outcome instanceof Outcome.Acked byAck) {
      AckWindow.Written then = failure -> acked(run, byAck, failure);
      switch (byAck) {
        // The user who stopped or killed it waits for its event, which follows the ack.
        case Outcome.Cancelled c -> window.ackUrgently(run.lease().deliveryTag(), then);
        case Outcome.Succeeded s -> window.ack(run.lease().deliveryTag(), then);
      }
      return;
    }
    try {
      apply(run, outcome);
      if (!(outcome instanceof Outcome.Requeued)) {
        // Its ack may yet be lost with the connection; a redelivery here is then not run again.
        // (A requeued task's copy is the same message to this memory: it must run.)
        lostLeases.settled(run.taskId(), TaskIntake.attemptsUsed(run.lease()));
      }
    } catch (LeaseLost e) {
      reportLost(run, outcome, e.copyPublished);
    } catch (IOException | ShutdownSignalException | TimeoutException e) {
      // ShutdownSignalException: the broker closed a channel under us (AlreadyClosedException too).
      if (run.leaseLost() || connectionGone(e)) {
        // The loss is known before the consumer hears of it (a write failed first): the broker
        // takes the delivery back all the same, so it is reported and remembered as lost.
        log.warn(
            "{}: the connection went while settling it as {}: {}",
            run,
            outcome,
            BrokerErrors.reason(e));
        reportLost(run, outcome, false);
      } else {
        log.error(
            "could not settle {} as {}: {}; handing it back", run, outcome, BrokerErrors.reason(e));
        handBack(run);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      log.error("interrupted while settling {}; handing it back", run);
      handBack(run);
    } finally {
      running.remove(run);
      run.completed(outcome);
    }
  }

  /** The rest of {@link #settle} once the ack of a succeeded or cancelled task is written. */
  private void acked(TaskRun run, Outcome.Acked outcome, Exception failure) {
    try {
      if (failure == null) {
        announceAcked(run, outcome);
        lostLeases.settled(run.taskId(), TaskIntake.attemptsUsed(run.lease()));
      } else if (failure instanceof IOException || failure instanceof ShutdownSignalException) {
        // An ack that cannot be written: its channel or connection is gone, and the delivery with
        // it.
        reportLost(run, outcome, false);
      } else {
        log.error(
            "could not settle {} as {}: {}; handing it back", run, outcome, failure.toString());
        handBack(run);
      }
    } finally {
      running.remove(run);
      run.completed(outcome);
    }
  }

  /** The outcome event of a task settled with an ack alone. */
  private void announceAcked(TaskRun run, Outcome.Acked outcome) {
    switch (outcome) {
      case Outcome.Succeeded s -> announce(run, TaskState.SUCCEEDED, null, null, null, s.result());
      case Outcome.Cancelled c ->
          announce(run, TaskState.CANCELLED, c.cause(), null, c.issuedBy(), null);
    }
  }

  /**
   * Acknowledges a redelivery of a task this worker has already settled (the ack of its first
   * delivery was lost with the connection): it is not run, nor announced, again.
   */
  public void settleRedelivery(TaskRun run) {
    if (!run.claimSettlement()) {
      return;
    }
    try {
      ack(run, false);
      log.info("{}: delivered again after it was settled here; acknowledged, not run again", run);
    } catch (LeaseLost | IOException e) {
      log.info("{}: a redelivery of a settled task was lost too", run);
    } finally {
      running.remove(run);
      run.completed(new Outcome.Requeued(Cause.CONNECTION_LOST, null));
    }
  }

  /**
   * The broker took the task back before its settlement: say what became of it and that it will be
   * delivered again, and remember the outcome so that a redelivery to this worker is settled with
   * it instead of running again.
   */
  private void reportLost(TaskRun run, Outcome outcome, boolean copyPublished) {
    if (outcome instanceof Outcome.Requeued r) {
      announce(run, TaskState.REQUEUED, r.cause(), "the broker took the task back", null, null);
      return;
    }
    lostLeases.finishedUnsettled(
        run.taskId(), TaskIntake.attemptsUsed(run.lease()), run.attempt(), outcome, copyPublished);
    Object result = outcome instanceof Outcome.Succeeded s ? s.result() : null;
    announce(
        run,
        TaskState.REQUEUED,
        Cause.CONNECTION_LOST,
        describe(outcome) + " after the broker took the task back; it will be delivered again",
        null,
        result);
  }

  private static String describe(Outcome outcome) {
    return switch (outcome) {
      case Outcome.Succeeded s -> "succeeded";
      case Outcome.Failed f -> "failed (" + f.reason() + ")";
      case Outcome.TimedOut t -> "timed out";
      case Outcome.Cancelled c -> "cancelled (" + c.cause().wire() + ")";
      case Outcome.Requeued r -> "requeued (" + r.cause().wire() + ")";
      case Outcome.Rejected r -> "rejected (" + r.reason() + ")";
      case Outcome.Expired e -> "expired";
      case Outcome.AttemptsExhausted x -> "out of attempts";
    };
  }

  /**
   * Whether a failure means the connection is gone: a write to its socket failed, or the broker or
   * the network closed it. Anything else (a channel the broker closed, a confirm that did not come)
   * leaves the lease held.
   */
  private static boolean connectionGone(Exception e) {
    if (e instanceof ShutdownSignalException s) {
      return s.isHardError();
    }
    return e instanceof IOException
        && !(e.getCause() instanceof ShutdownSignalException soft && !soft.isHardError());
  }

  /** The broker has the delivery back: this worker must not settle it on its tag. */
  private static final class LeaseLost extends Exception {
    final boolean copyPublished;

    LeaseLost(boolean copyPublished) {
      super(null, null, false, false);
      this.copyPublished = copyPublished;
    }
  }

  private void apply(TaskRun run, Outcome outcome)
      throws IOException, TimeoutException, InterruptedException, LeaseLost {
    // Before anything is announced: a lost lease is reported once, as what it is.
    checkLease(run);
    switch (outcome) {
      case Outcome.Succeeded s -> {
        ack(run, false);
        announceAcked(run, s);
      }
      case Outcome.Failed f -> {
        announce(run, TaskState.FAILED, Cause.HANDLER, f.reason(), null, null);
        retryOrDeadLetter(run, Cause.HANDLER, "failed: " + f.reason());
      }
      case Outcome.TimedOut t -> {
        announce(run, TaskState.TIMED_OUT, Cause.DEADLINE, t.reason(), null, null);
        retryOrDeadLetter(run, Cause.DEADLINE, t.reason());
      }
      case Outcome.Cancelled c -> {
        ack(run, false);
        announceAcked(run, c);
      }
      case Outcome.Requeued r -> {
        // Announced before the copy exists, so that its next "running" cannot overtake this.
        announce(run, TaskState.REQUEUED, r.cause(), null, r.issuedBy(), null);
        // Not the task's fault: this attempt is given back.
        republish(run, run.attempt() - 1, r.cause().wire(), false);
      }
      case Outcome.Rejected r -> {
        deadLetter(run, Cause.REJECTED, r.reason());
        announce(run, TaskState.REJECTED, Cause.REJECTED, r.reason(), null, null);
      }
      case Outcome.Expired e -> {
        deadLetter(run, Cause.EXPIRED, e.reason());
        announce(run, TaskState.EXPIRED, Cause.EXPIRED, e.reason(), null, null);
      }
      case Outcome.AttemptsExhausted x -> {
        deadLetter(run, Cause.WORKER_LOST, x.reason());
        announce(run, TaskState.DEAD, Cause.WORKER_LOST, x.reason(), null, null);
      }
    }
  }

  /**
   * A message this worker could not settle must not stay unacked on a live channel, held by nobody:
   * the broker gets it back (and counts the delivery).
   */
  private void handBack(TaskRun run) {
    if (run.leaseLost()) {
      return;
    }
    Lease lease = run.lease();
    try {
      lease.channel().basicNack(lease.deliveryTag(), false, true);
    } catch (IOException | ShutdownSignalException e) {
      log.warn("could not hand {} back either; the broker takes it back with its channel", run);
    } finally {
      // After the nack is written: an ack in runs must not cover it before.
      if (lease.scope().acks() != null) {
        lease.scope().acks().settledOtherwise(lease.deliveryTag());
      }
    }
  }

  /** Closes the settler's own channel. */
  public void close() {
    confirms.close();
  }

  private void retryOrDeadLetter(TaskRun run, Cause cause, String reason)
      throws IOException, TimeoutException, InterruptedException, LeaseLost {
    if (run.attempt() < run.maxAttempts()) {
      announce(run, TaskState.REQUEUED, cause, reason, null, null);
      republish(run, run.attempt(), cause.wire() + ": " + reason, !retryDelay.isZero());
    } else {
      deadLetter(run, cause, reason);
      announce(run, TaskState.DEAD, cause, reason, null, null);
    }
  }

  private void announce(
      TaskRun run, TaskState state, Cause cause, String reason, String issuedBy, Object result) {
    events.task(
        run.task(),
        run.lease().queue(),
        run.attempt(),
        state,
        run.durationMs(),
        cause,
        reason,
        issuedBy,
        result);
  }

  /**
   * Acknowledges the delivery, unless the broker has taken it back: amqp-client would drop an ack
   * with a tag from before a recovery without a word.
   *
   * @param copyPublished whether a copy of the message was published before (a retry, a dead
   *     letter), for the report when the lease turns out lost
   */
  private void ack(TaskRun run, boolean copyPublished) throws IOException, LeaseLost {
    if (run.leaseLost()) {
      throw new LeaseLost(copyPublished);
    }
    Lease lease = run.lease();
    try {
      AckWindow window = lease.scope().acks();
      if (window != null) {
        window.ack(lease.deliveryTag());
      } else {
        lease.channel().basicAck(lease.deliveryTag(), false);
      }
    } catch (ShutdownSignalException | IOException e) {
      // An ack that cannot be written: its channel or connection is gone, and the delivery with it.
      throw new LeaseLost(copyPublished);
    }
  }

  private static void checkLease(TaskRun run) throws LeaseLost {
    if (run.leaseLost()) {
      throw new LeaseLost(false);
    }
  }

  /**
   * Publishes a copy for another attempt and acks the original.
   *
   * @param attemptsUsed attempts that count against {@code maxAttempts} so far
   */
  private void republish(TaskRun run, int attemptsUsed, String note, boolean delayed)
      throws IOException, TimeoutException, InterruptedException, LeaseLost {
    checkLease(run);
    Lease lease = run.lease();
    AMQP.BasicProperties.Builder props =
        lease.props().builder().headers(copyHeaders(run, attemptsUsed, note));
    if (delayed) {
      props.expiration(Long.toString(retryDelay.toMillis()));
      confirms.publish("", names.retryQueue(lease.queue()), props.build(), lease.body());
    } else {
      props.expiration(null);
      confirms.publish(names.tasksExchange(), lease.queue(), props.build(), lease.body());
    }
    ack(run, true);
  }

  private void deadLetter(TaskRun run, Cause cause, String reason)
      throws IOException, TimeoutException, InterruptedException, LeaseLost {
    checkLease(run);
    Lease lease = run.lease();
    Map<String, Object> headers = copyHeaders(run, run.attempt(), cause.wire() + ": " + reason);
    headers.put(Headers.DEAD_REASON, reason);
    headers.put(Headers.DEAD_CAUSE, cause.wire());
    headers.put(Headers.ORIGIN_QUEUE, lease.queue());
    headers.put(Headers.WORKER, worker);
    AMQP.BasicProperties props = lease.props().builder().headers(headers).expiration(null).build();
    confirms.publish(names.deadExchange(), lease.queue(), props, lease.body());
    ack(run, true);
  }

  /**
   * The headers of a copy: the original's, less the broker's bookkeeping, with the attempts used so
   * far and the history extended by this attempt.
   */
  private Map<String, Object> copyHeaders(TaskRun run, int attemptsUsed, String note) {
    AMQP.BasicProperties original = run.lease().props();
    Map<String, Object> headers = carriedHeaders(original);
    headers.put(Headers.ATTEMPTS_USED, attemptsUsed);
    headers.put(Headers.HISTORY, history(run, original, note));
    return headers;
  }

  /** The most entries a copy's history holds: the newest, after one that counts the rest. */
  static final int HISTORY_LIMIT = 50;

  /** The longest entry of the original's history that a copy carries over, in characters. */
  static final int HISTORY_ENTRY_LIMIT = 1000;

  private static final String NOT_KEPT = "earlier entries not kept: ";

  /**
   * The history of a copy: the original's, then {@code entry}. Bounded, entries and length: a task
   * requeued without using an attempt (a shutdown, a lost connection, a stop with requeue) may come
   * back any number of times, and a producer may send any header, while a message's headers must
   * fit in one frame. Past {@link #HISTORY_LIMIT} entries, the oldest make way for a first one that
   * counts them.
   */
  static List<String> history(Object previous, String entry) {
    List<String> all = new ArrayList<>();
    long notKept = 0;
    if (previous instanceof List<?> list) {
      for (Object o : list) {
        String text = String.valueOf(o);
        if (all.isEmpty() && notKept == 0 && text.startsWith(NOT_KEPT)) {
          long n = count(text.substring(NOT_KEPT.length()));
          if (n > 0) {
            notKept = n;
            continue;
          }
          // not one of ours: an entry like any other
        }
        all.add(
            text.length() > HISTORY_ENTRY_LIMIT
                ? text.substring(0, HISTORY_ENTRY_LIMIT) + "…"
                : text);
      }
    }
    all.add(entry);
    if (notKept == 0 && all.size() <= HISTORY_LIMIT) {
      return all;
    }
    int cut = Math.max(0, all.size() - (HISTORY_LIMIT - 1));
    List<String> out = new ArrayList<>(HISTORY_LIMIT);
    out.add(NOT_KEPT + (notKept + cut));
    out.addAll(all.subList(cut, all.size()));
    return out;
  }

  /** A count of entries not kept, as this worker writes it; 0 for anything else. */
  private static long count(String text) {
    try {
      long n = Long.parseLong(text);
      return n > 0 && n < Integer.MAX_VALUE ? n : 0;
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** The original headers without those the broker sets on delivery. */
  private static Map<String, Object> carriedHeaders(AMQP.BasicProperties props) {
    Map<String, Object> headers = new HashMap<>();
    if (props.getHeaders() != null) {
      headers.putAll(props.getHeaders());
    }
    headers.keySet().removeIf(Headers::isBrokerBookkeeping);
    return headers;
  }

  private List<String> history(TaskRun run, AMQP.BasicProperties props, String note) {
    Object previous = props.getHeaders() == null ? null : props.getHeaders().get(Headers.HISTORY);
    return history(
        previous,
        "attempt " + run.attempt() + " on " + worker + " at " + Instant.now() + ": " + note);
  }
}
