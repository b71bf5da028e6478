package dev.conveyor.protocol.topology;

import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.Channel;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Declares what Conveyor needs on the broker. Every declaration is idempotent and uses the same
 * arguments everywhere, so any program may start first.
 */
public final class Topology {

  /**
   * The broker's own cap on deliveries of one task message. It catches a task that keeps killing
   * its worker even if the worker's own attempt counting were bypassed.
   */
  public static final int DELIVERY_LIMIT = 20;

  /** How long the control log keeps commands: above the promised 24 hours. */
  public static final String CONTROL_LOG_MAX_AGE = "25h";

  private final Names names;

  public Topology(Names names) {
    this.names = names;
  }

  public Names names() {
    return names;
  }

  /** Exchanges and the dead-letter queue: what every program uses. */
  public void declareCore(Channel ch) throws IOException {
    for (Exchange e : coreExchanges()) {
      ch.exchangeDeclare(e.name(), e.type(), true);
    }
    ch.queueDeclare(names.deadQueue(), true, false, false, DEAD_QUEUE);
    ch.queueBind(names.deadQueue(), names.deadExchange(), "");
  }

  /**
   * {@link #declareCore} without waiting for the broker's answers: for a channel on which a call
   * that does wait follows. The broker applies a channel's frames in order, so what is declared
   * here exists before anything sent after it is handled; a declaration that fails closes the
   * channel, and that later call reports it.
   */
  public void declareCoreNoWait(Channel ch) throws IOException {
    for (Exchange e : coreExchanges()) {
      ch.exchangeDeclareNoWait(e.name(), e.type(), true, false, false, null);
    }
    ch.queueDeclareNoWait(names.deadQueue(), true, false, false, DEAD_QUEUE);
    ch.queueBindNoWait(names.deadQueue(), names.deadExchange(), "", null);
  }

  private static final Map<String, Object> DEAD_QUEUE = Map.of("x-queue-type", "quorum");

  private record Exchange(String name, BuiltinExchangeType type) {}

  /** The namespace's exchanges, all durable; the dead-letter one before the queue bound to it. */
  private List<Exchange> coreExchanges() {
    return List.of(
        new Exchange(names.tasksExchange(), BuiltinExchangeType.DIRECT),
        new Exchange(names.deadExchange(), BuiltinExchangeType.FANOUT),
        new Exchange(names.controlExchange(), BuiltinExchangeType.FANOUT),
        new Exchange(names.eventsExchange(), BuiltinExchangeType.TOPIC));
  }

  /** A durable quorum task queue bound to {@code ns.tasks} under its own name. */
  public String declareTaskQueue(Channel ch, String queue) throws IOException {
    String name = names.taskQueue(queue);
    ch.queueDeclare(
        name,
        true,
        false,
        false,
        Map.of(
            "x-queue-type",
            "quorum",
            "x-delivery-limit",
            DELIVERY_LIMIT,
            "x-dead-letter-exchange",
            names.deadExchange()));
    ch.queueBind(name, names.tasksExchange(), queue);
    return name;
  }

  /**
   * The retry queue of a task queue: messages wait there for their per-message TTL and are then
   * dead-lettered back to {@code ns.tasks} under the queue's routing key.
   */
  public String declareRetryQueue(Channel ch, String queue) throws IOException {
    String name = names.retryQueue(queue);
    ch.queueDeclare(
        name,
        true,
        false,
        false,
        Map.of(
            "x-dead-letter-exchange", names.tasksExchange(), "x-dead-letter-routing-key", queue));
    return name;
  }

  /**
   * The stream that remembers control commands (see {@link Names#controlLog()}), fed through {@link
   * Names#controlLogged()}: the commands that revoke tasks ({@link #routingKey}). A log bound
   * straight to the control exchange (as before that exchange) is unbound from it.
   */
  public String declareControlLog(Channel ch) throws IOException {
    String name = names.controlLog();
    ch.exchangeDeclare(names.controlLogged(), BuiltinExchangeType.DIRECT, true);
    ch.exchangeBind(names.controlLogged(), names.controlExchange(), "");
    ch.queueDeclare(name, true, false, false, CONTROL_LOG);
    ch.queueBind(name, names.controlLogged(), LOGGED_KEY);
    ch.queueUnbind(name, names.controlExchange(), "");
    return name;
  }

  /**
   * {@link #declareControlLog} without waiting for the answers, as {@link #declareCoreNoWait}; a
   * log still bound straight to the control exchange stays so until a worker declares it.
   */
  public void declareControlLogNoWait(Channel ch) throws IOException {
    ch.exchangeDeclareNoWait(
        names.controlLogged(), BuiltinExchangeType.DIRECT, true, false, false, null);
    ch.exchangeBindNoWait(names.controlLogged(), names.controlExchange(), "", null);
    ch.queueDeclareNoWait(names.controlLog(), true, false, false, CONTROL_LOG);
    ch.queueBindNoWait(names.controlLog(), names.controlLogged(), LOGGED_KEY, null);
  }

  /**
   * The queue whose consumers are the workers that hear commands ({@link Names#workers()}): a
   * quorum queue, so that it outlives the loss of a node, capped at no message, so that nothing
   * published to it by mistake stays. It stays in the namespace when no worker consumes it.
   */
  public String declareWorkers(Channel ch) throws IOException {
    String name = names.workers();
    ch.queueDeclare(name, true, false, false, WORKERS);
    return name;
  }

  /**
   * How long a worker's queue of commands outlives its connection: a reconnection takes seconds; a
   * worker that is gone for longer starts afresh (a signed command is refused as stale after a
   * minute anyway).
   */
  public static final Duration COMMANDS_KEPT_FOR = Duration.ofMinutes(1);

  /** The most commands a worker's queue holds while nobody reads it; the oldest go first. */
  public static final int COMMANDS_KEPT = 1000;

  /**
   * A worker's queue of commands ({@link Names#commandsFor}, or the name it moved to: {@link
   * dev.conveyor.protocol.broker.KeptQueueName}), bound to the control exchange: a {@linkplain
   * #declareKept kept queue} that holds at most {@link #COMMANDS_KEPT}.
   *
   * @return its name
   */
  public String declareCommands(Channel ch, String name) throws IOException {
    ch.queueDeclare(name, true, false, false, COMMANDS);
    ch.queueBind(name, names.controlExchange(), "");
    return name;
  }

  /**
   * The routing key of the commands the control log keeps: those that revoke tasks ({@link
   * ControlMessage#revokesTasks}), which a worker that starts later must honour.
   */
  public static final String LOGGED_KEY = "";

  /** The routing key of a status round on the control exchange, which the log does not keep. */
  public static final String STATUS_KEY = "status";

  /**
   * The routing key of the other commands ({@code stop --all}, a requeueing kill, {@code pause},
   * …), which act on the workers that hear them and which the log does not keep: every entry costs
   * each worker a read, and a stream write costs the broker more than the fanout to the workers.
   */
  public static final String LIVE_KEY = "live";

  /** The routing key a control message goes out with, which decides whether the log keeps it. */
  public static String routingKey(ControlMessage m) {
    if (m.command() == Command.STATUS) {
      return STATUS_KEY;
    }
    return m.revokesTasks() ? LOGGED_KEY : LIVE_KEY;
  }

  /**
   * A queue of one client's own that outlives its connection by {@code keptFor}, so that what is
   * published to it while the client reconnects waits there: a durable classic queue, which the
   * broker deletes once unused for that long. Not a transient non-exclusive queue, which RabbitMQ
   * 4.3 refuses by default; not a quorum queue, whose every message is a write replicated to other
   * nodes (docs/benchmarks.md). It lives on one node: while that node is down the broker refuses to
   * declare it, and the client moves to another name ({@link
   * dev.conveyor.protocol.broker.KeptQueueName}).
   *
   * @return its name
   */
  public String declareKept(Channel ch, String name, Duration keptFor) throws IOException {
    ch.queueDeclare(name, true, false, false, Map.of("x-expires", keptFor.toMillis()));
    return name;
  }

  private static final Map<String, Object> WORKERS =
      Map.of("x-queue-type", "quorum", "x-max-length", 0, "x-overflow", "drop-head");

  private static final Map<String, Object> COMMANDS =
      Map.of("x-expires", COMMANDS_KEPT_FOR.toMillis(), "x-max-length", COMMANDS_KEPT);

  private static final Map<String, Object> CONTROL_LOG =
      Map.of(
          "x-queue-type",
          "stream",
          "x-max-age",
          CONTROL_LOG_MAX_AGE,
          "x-stream-max-segment-size-bytes",
          1_000_000);
}
