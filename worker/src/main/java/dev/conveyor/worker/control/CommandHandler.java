package dev.conveyor.worker.control;

import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.worker.execution.Ending;
import dev.conveyor.worker.execution.EscalationLadder;
import dev.conveyor.worker.execution.RunningTasks;
import dev.conveyor.worker.execution.TaskRun;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a worker does with a control message, whoever delivered it: verify it, apply it to the tasks
 * it runs (stop, kill through the escalation ladder; revoke named tasks that have not arrived),
 * pause or resume intake, answer. No broker code: the listener and the control log feed it, {@link
 * Answers} carries its answers out. A command comes twice when it names tasks (the queue of
 * commands and the log): it is applied and answered once.
 */
public final class CommandHandler {
  private static final Logger log = LoggerFactory.getLogger(CommandHandler.class);

  /**
   * How many command ids a worker remembers to drop the second copy of a command (the log's, when
   * the queue of commands brought it first, or the other way round): far more than the log can lag
   * behind the queue.
   */
  static final int REMEMBERED = 1024;

  /** Where a worker's answers to commands go (its events publisher). */
  public interface Answers {
    void applied(CommandApplied applied);

    void refused(CommandRefused refused);

    /** A direct reply to a request that named a reply-to queue. */
    void reply(String replyTo, String correlationId, Object body);
  }

  /** Told of every command applied (by verb) and refused (by reason): metrics. */
  public interface Observer {
    void applied(String command);

    void refused(String reason);
  }

  private final String worker;
  private final RunningTasks running;
  private final EscalationLadder ladder;
  private final Revocations revocations;
  private final CommandVerifier verifier;
  private final Pausable intake;
  private final Supplier<WorkerStatus> status;
  private final Answers answers;
  private final Observer observer;
  private final RecentIds recent = new RecentIds();

  public CommandHandler(
      String worker,
      RunningTasks running,
      EscalationLadder ladder,
      Revocations revocations,
      CommandVerifier verifier,
      Pausable intake,
      Supplier<WorkerStatus> status,
      Answers answers,
      Observer observer) {
    this.worker = worker;
    this.running = running;
    this.ladder = ladder;
    this.revocations = revocations;
    this.verifier = verifier;
    this.intake = intake;
    this.status = status;
    this.answers = answers;
    this.observer = observer;
  }

  /**
   * Verifies and applies one control message from this worker's queue of commands, unless the
   * control log brought it first ({@link #handleLogged}).
   *
   * @param headers the message's AMQP headers (the signature travels there)
   * @param replyTo where a status request wants its answer, or null
   * @param correlationId the request's correlation id, or null
   */
  public void handle(
      byte[] body, Map<String, Object> headers, String replyTo, String correlationId) {
    ControlMessage message;
    try {
      message = Wire.decodeControl(body);
    } catch (MalformedMessageException e) {
      log.warn("dropping control message: {}", e.getMessage());
      observer.refused("malformed");
      return;
    }
    var refusal = verifier.refusal(body, headers, message, true);
    if (refusal.isPresent()) {
      log.warn(
          "dropping {} command {} from {}: {}",
          message.command().wire(),
          message.id(),
          message.issuedBy(),
          refusal.get());
      observer.refused(refusal.get().startsWith("stale") ? "stale" : refusal.get());
      // Answered, so that the sender learns why instead of hearing silence; only what was
      // addressed to this worker and has an id to answer to.
      if (message.id() != null
          && !message.id().isBlank()
          && (!(message.target() instanceof Target.Workers w) || w.names().contains(worker))) {
        answers.refused(
            new CommandRefused(
                message.id(),
                message.command(),
                worker,
                refusal.get(),
                Instant.now(),
                message.issuedBy()));
      }
      return;
    }
    if (recent.first(message.id())) {
      applyOrLog(message, replyTo, correlationId);
    }
  }

  /**
   * A stop or kill for tasks read from the control log, which keeps every such command: applied
   * unless this worker's queue of commands brought it first. So one that the broker handed to a
   * connection this worker lost (which drops it) is still obeyed once the worker is back, and
   * answered. Anything else the log holds (another client's commands sent with its routing key) is
   * left to the queue of commands, which keeps their order; a refusal was told of as the log read
   * it.
   */
  public void handleLogged(ControlMessage message, byte[] body, Map<String, Object> headers) {
    if (message.revokesTasks()
        && verifier.refusal(body, headers, message, true).isEmpty()
        && recent.first(message.id())) {
      applyOrLog(message, null, null);
    }
  }

  private void applyOrLog(ControlMessage message, String replyTo, String correlationId) {
    try {
      apply(message, replyTo, correlationId);
    } catch (RuntimeException e) {
      log.error("failed to apply control message {}", message.id(), e);
    }
  }

  /**
   * The ids of the last {@link #REMEMBERED} commands heard, from the queue of commands or the log:
   * each copy after the first is dropped. Only commands that passed verification are remembered, so
   * a forged message cannot take a genuine command's id first.
   */
  private static final class RecentIds {
    private final Map<String, Boolean> ids =
        new LinkedHashMap<>(64, 0.75f, false) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > REMEMBERED;
          }
        };

    /** Whether this is the first copy; a command without an id always is. */
    synchronized boolean first(String id) {
      return id == null || id.isBlank() || ids.putIfAbsent(id, Boolean.TRUE) == null;
    }
  }

  private void apply(ControlMessage m, String replyTo, String correlationId) {
    Target target = m.target() == null ? Target.all() : m.target();
    boolean addressed = !(target instanceof Target.Workers w) || w.names().contains(worker);
    if (!addressed) {
      return;
    }
    switch (m.command()) {
      case STOP, KILL -> end(m, target);
      case PAUSE -> {
        intake.pause();
        applied(m, List.of(), List.of(), List.of());
      }
      case RESUME -> {
        intake.resume();
        applied(m, List.of(), List.of(), List.of());
      }
      case STATUS -> {
        if (replyTo != null) {
          answers.reply(replyTo, correlationId != null ? correlationId : m.id(), status.get());
        }
      }
    }
    // Counted and logged after acting: a log line written to a slow console must not hold up a
    // kill.
    observer.applied(m.command().wire());
    if (log.isInfoEnabled()) {
      log.info("{} {} from {}", m.command().wire(), Wire.toJson(target), m.issuedBy());
    }
  }

  private void end(ControlMessage m, Target target) {
    boolean kill = m.command() == Command.KILL;
    Ending ending = new Ending(kill ? Cause.USER_KILL : Cause.USER_STOP, m.requeue(), m.issuedBy());
    List<TaskRun> matched = running.matching(target);
    List<String> ended = new ArrayList<>();
    if (kill) {
      ladder.kill(matched, ending).forEach(run -> ended.add(run.taskId()));
    } else {
      for (TaskRun run : matched) {
        if (ladder.stop(run, ending, null)) {
          ended.add(run.taskId());
        }
      }
    }
    List<String> revoked = List.of();
    if (m.revokesTasks() && target instanceof Target.Tasks tasks) {
      // Named tasks that have not started yet are cancelled when they arrive; a requeue asks for
      // the opposite.
      revocations.revoke(tasks.ids(), m.issuedBy(), m.issuedAt());
      revoked = tasks.ids().stream().filter(id -> !ended.contains(id)).toList();
    }
    applied(m, kill ? List.of() : ended, kill ? ended : List.of(), revoked);
  }

  private void applied(
      ControlMessage m, List<String> stopped, List<String> killed, List<String> revoked) {
    answers.applied(
        new CommandApplied(
            m.id(),
            m.command(),
            worker,
            stopped,
            killed,
            revoked,
            intake.paused(),
            Instant.now(),
            m.issuedBy()));
  }
}
