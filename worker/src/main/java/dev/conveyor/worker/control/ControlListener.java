package dev.conveyor.worker.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
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
import dev.conveyor.worker.messaging.EventPublisher;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This worker's ear on {@code ns.control}: a private queue bound to the fanout exchange, so every
 * worker hears every command within milliseconds. Malformed or unknown commands are logged and
 * dropped; unverified ones are also answered with {@code command.refused}; the worker keeps
 * serving.
 */
public final class ControlListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlListener.class);

  private final Connection connection;
  private final Topology topology;
  private final String worker;
  private final RunningTasks running;
  private final EscalationLadder ladder;
  private final Revocations revocations;
  private final CommandVerifier verifier;
  private final EventPublisher events;
  private final Pausable intake;
  private final Supplier<WorkerStatus> status;
  private final Consumer<String> onCommand;
  private final Consumer<String> onRefused;
  private Channel channel;

  /**
   * @param onCommand counts applied commands, by verb
   * @param onRefused counts dropped commands, by reason
   */
  public ControlListener(
      Connection connection,
      Topology topology,
      String worker,
      RunningTasks running,
      EscalationLadder ladder,
      Revocations revocations,
      CommandVerifier verifier,
      EventPublisher events,
      Pausable intake,
      Supplier<WorkerStatus> status,
      Consumer<String> onCommand,
      Consumer<String> onRefused) {
    this.connection = connection;
    this.topology = topology;
    this.worker = worker;
    this.running = running;
    this.ladder = ladder;
    this.revocations = revocations;
    this.verifier = verifier;
    this.events = events;
    this.intake = intake;
    this.status = status;
    this.onCommand = onCommand;
    this.onRefused = onRefused;
  }

  public void start() throws IOException {
    channel = connection.createChannel();
    String queue = channel.queueDeclare("", false, true, true, null).getQueue();
    channel.queueBind(queue, topology.names().controlExchange(), "");
    channel.basicConsume(
        queue,
        true,
        new DefaultConsumer(channel) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
            receive(props, body);
          }
        });
  }

  void receive(AMQP.BasicProperties props, byte[] body) {
    ControlMessage message;
    try {
      message = Wire.decodeControl(body);
    } catch (MalformedMessageException e) {
      log.warn("dropping control message: {}", e.getMessage());
      onRefused.accept("malformed");
      return;
    }
    Map<String, Object> headers = props.getHeaders();
    var refusal = verifier.refusal(body, headers, message, true);
    if (refusal.isPresent()) {
      log.warn(
          "dropping {} command {} from {}: {}",
          message.command().wire(),
          message.id(),
          message.issuedBy(),
          refusal.get());
      onRefused.accept(refusal.get().startsWith("stale") ? "stale" : refusal.get());
      // Answered, so that the sender learns why instead of hearing silence; only what was
      // addressed to this worker and has an id to answer to.
      if (message.id() != null
          && !message.id().isBlank()
          && (!(message.target() instanceof Target.Workers w) || w.names().contains(worker))) {
        events.refused(
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
    try {
      apply(message, props);
    } catch (RuntimeException e) {
      log.error("failed to apply control message {}", message.id(), e);
    }
  }

  private void apply(ControlMessage m, AMQP.BasicProperties props) {
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
        if (props.getReplyTo() != null) {
          String correlation = props.getCorrelationId() != null ? props.getCorrelationId() : m.id();
          events.reply(props.getReplyTo(), correlation, status.get());
        }
      }
    }
    // Counted and logged after acting: a log line written to a slow console must not hold up a
    // kill.
    onCommand.accept(m.command().wire());
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
    if (target instanceof Target.Tasks tasks && !m.requeue()) {
      // Named tasks that have not started yet are cancelled when they arrive; a requeue asks for
      // the opposite.
      revocations.revoke(tasks.ids(), m.issuedBy(), m.issuedAt());
      revoked = tasks.ids().stream().filter(id -> !ended.contains(id)).toList();
    }
    applied(m, kill ? List.of() : ended, kill ? ended : List.of(), revoked);
  }

  private void applied(
      ControlMessage m, List<String> stopped, List<String> killed, List<String> revoked) {
    events.applied(
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

  @Override
  public void close() {
    Channels.closeQuietly(channel);
  }
}
