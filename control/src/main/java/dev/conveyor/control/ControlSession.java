package dev.conveyor.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One broker connection for one {@code control} invocation, and the ways it talks to workers. */
final class ControlSession implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlSession.class);

  /** RabbitMQ's direct reply-to pseudo queue: replies come back without a queue of our own. */
  static final String DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";

  /**
   * A status round for every worker that the broker's count of listening workers did not end (no
   * count, or a worker counted that does not answer) ends once no further reply came for this long.
   * Generous: a worker that has just started was seen answering 250 ms after another.
   */
  static final Duration QUIET = Duration.ofMillis(400);

  private static final Duration CONFIRM_TIMEOUT = Duration.ofSeconds(10);

  private final BrokerSettings settings;
  private final Connection connection;
  private final Topology topology;
  private Optional<ControlSigner> signer;

  private ControlSession(BrokerSettings settings, Connection connection) {
    this.settings = settings;
    this.connection = connection;
    this.topology = new Topology(settings.names());
  }

  /**
   * Connects for a command that publishes (stop, kill, pause, resume). What it needs on the broker
   * is declared on the command's own channel ({@link #commandChannel}).
   *
   * @throws BrokerUnreachableException when the broker cannot be reached (exit 3)
   */
  static ControlSession open(BrokerOptions options, String purpose)
      throws BrokerUnreachableException {
    return open(options.settings(), purpose);
  }

  /** What the management UI shows: the program, what it does, and for which namespace. */
  private static String connectionName(BrokerSettings settings, String purpose) {
    return "conveyor-control " + purpose + " " + settings.namespace();
  }

  static ControlSession open(BrokerSettings settings, String purpose)
      throws BrokerUnreachableException {
    Connection connection =
        new BrokerConnector(settings).connect(connectionName(settings, purpose));
    return new ControlSession(settings, connection);
  }

  /**
   * The channel a stop, kill, pause or resume goes out on, with what it needs declared on it first:
   * the core topology (any start order works), for a stop or kill the control log (so that a
   * revocation is remembered even if no worker has declared it), and a queue for the events that
   * answer the command, bound to {@code eventKeys} and consumed.
   *
   * <p>The declarations are sent without waiting for each answer: the broker applies a channel's
   * frames in order, so they exist before the command published later on this channel is routed,
   * and the command goes out after four round trips instead of about twenty. A declaration that
   * fails closes the channel; they are then made again one at a time, as their answers are awaited:
   * the core's failure is the command's, the control log's only a warning.
   */
  CommandChannel commandChannel(
      boolean keepRevocations, List<String> eventKeys, Consumer<Event> listener)
      throws IOException {
    Channel ch = connection.createChannel();
    try {
      topology.declareCoreNoWait(ch);
      if (keepRevocations) {
        topology.declareControlLogNoWait(ch);
      }
      return new CommandChannel(ch, EventSubscription.openOn(ch, topology, eventKeys, listener));
    } catch (IOException | ShutdownSignalException e) {
      Channels.closeQuietly(ch);
      if (!connection.isOpen()) {
        throw e;
      }
      log.debug(
          "a declaration sent without waiting failed ({}); again one at a time", e.toString());
    }
    try (Channel core = connection.createChannel()) {
      topology.declareCore(core);
    } catch (TimeoutException e) {
      throw new IOException("timed out declaring the topology", e);
    }
    if (keepRevocations) {
      keepRevocations();
    }
    Channel again = connection.createChannel();
    try {
      return new CommandChannel(
          again, EventSubscription.openOn(again, topology, eventKeys, listener));
    } catch (IOException | RuntimeException e) {
      Channels.closeQuietly(again);
      throw e;
    }
  }

  /** The channel a command goes out on, and the subscription to what answers it. */
  final class CommandChannel implements AutoCloseable {
    private final Channel channel;
    private final EventSubscription answers;

    private CommandChannel(Channel channel, EventSubscription answers) {
      this.channel = channel;
      this.answers = answers;
    }

    /**
     * Publishes the command and waits for the broker's confirm.
     *
     * @param sent run once the message is on its way, before the confirm is awaited: what may
     *     follow the publish but must not delay it
     */
    void publish(Prepared.Outgoing outgoing, Runnable sent) throws IOException {
      try {
        channel.confirmSelect();
        publishOn(channel, outgoing.message(), outgoing.body(), null);
        sent.run();
        channel.waitForConfirmsOrDie(CONFIRM_TIMEOUT.toMillis());
      } catch (TimeoutException e) {
        throw new IOException("the broker did not confirm the control message", e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while publishing", e);
      }
    }

    /** Stops following the answers; closes the channel. */
    @Override
    public void close() {
      answers.close();
    }
  }

  /** Something a read-only command needs on the broker. */
  record Need(String kind, String name) {
    static Need exchange(String name) {
      return new Need("exchange", name);
    }

    static Need queue(String name) {
      return new Need("queue", name);
    }
  }

  /**
   * Connects for a command that only reads (status, watch, dead letters): nothing is declared, so a
   * mistyped {@code --namespace} is reported instead of created. The namespace exists when its
   * control exchange does; {@code needs} are checked after it.
   *
   * @throws NamespaceMissingException when the namespace or something the command reads is missing
   */
  static ControlSession openExisting(BrokerOptions options, String purpose, List<Need> needs)
      throws BrokerUnreachableException, IOException {
    BrokerSettings settings = options.settings();
    Connection connection =
        new BrokerConnector(settings).connect(connectionName(settings, purpose));
    ControlSession session = new ControlSession(settings, connection);
    try {
      List<Need> all = new ArrayList<>();
      all.add(Need.exchange(settings.names().controlExchange()));
      all.addAll(needs);
      for (Need need : all) {
        if (!session.exists(need)) {
          throw new NamespaceMissingException(
              "namespace '"
                  + settings.names().namespace()
                  + "' does not exist on the broker (no "
                  + need.kind()
                  + " "
                  + need.name()
                  + ")");
        }
      }
    } catch (IOException | RuntimeException e) {
      session.close();
      throw e;
    }
    return session;
  }

  /** A passive declaration on a channel of its own, since a failed one closes its channel. */
  private boolean exists(Need need) throws IOException {
    Channel probe = connection.createChannel();
    try {
      if (need.kind().equals("exchange")) {
        probe.exchangeDeclarePassive(need.name());
      } else {
        probe.queueDeclarePassive(need.name());
      }
      return true;
    } catch (IOException e) {
      if (notFound(e)) {
        return false;
      }
      throw e;
    } finally {
      Channels.closeQuietly(probe);
    }
  }

  private static boolean notFound(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ShutdownSignalException s
          && s.getReason() instanceof AMQP.Channel.Close close
          && close.getReplyCode() == AMQP.NOT_FOUND) {
        return true;
      }
    }
    return false;
  }

  Connection connection() {
    return connection;
  }

  Topology topology() {
    return topology;
  }

  Names names() {
    return settings.names();
  }

  /**
   * The configured signer, read on first use so that commands which publish nothing need no key.
   */
  private synchronized Optional<ControlSigner> signer() {
    if (signer == null) {
      signer = ControlMessages.signer(settings);
    }
    return signer;
  }

  /**
   * Makes sure the control log exists before a stop or kill is published, so that a revocation is
   * remembered even if no worker has ever declared it. Not fatal: live workers still get it.
   */
  private void keepRevocations() {
    try (Channel ch = connection.createChannel()) {
      topology.declareControlLog(ch);
    } catch (IOException | TimeoutException | RuntimeException e) {
      log.warn(
          "cannot declare the control log {}: commands reach only live workers: {}",
          names().controlLog(),
          BrokerErrors.refusal(e).orElse(e.toString()));
    }
  }

  /** The control log keeps only the commands that revoke tasks: {@link Topology#routingKey}. */
  private void publishOn(Channel ch, ControlMessage message, byte[] body, String replyTo)
      throws IOException {
    ch.basicPublish(
        names().controlExchange(),
        Topology.routingKey(message),
        ControlMessages.properties(message, body, signer(), replyTo),
        body);
  }

  /**
   * A status round: broadcasts {@code status} and collects the answers of live workers until {@code
   * timeout}, or earlier once every expected worker answered or answers stopped coming. A worker
   * that refuses the request (a control key) answers with {@code command.refused} on the events
   * exchange, so that is followed too.
   *
   * @param target {@link Target.All} or {@link Target.Workers}
   * @return the replies, one per worker, ordered by worker name, and the refusals
   */
  StatusRound.Result status(Target target, Duration timeout) throws IOException {
    return status(target, timeout, QUIET);
  }

  /**
   * @param quiet how long without a new answer ends a round for every worker that the broker's
   *     count did not end
   */
  StatusRound.Result status(Target target, Duration timeout, Duration quiet) throws IOException {
    return status(target, timeout, quiet, this::followRefusals);
  }

  /**
   * Where a status round hears the workers' refusals of its request ({@code command.refused}): a
   * subscription of its own, or one its caller has already (a command's, bound to refusals too).
   */
  @FunctionalInterface
  interface RefusalFeed {
    /** Hands {@code listener} every event heard from now until the returned handle is closed. */
    Following follow(Consumer<Event> listener) throws IOException;
  }

  /** What a {@link RefusalFeed} hands back: closing it stops the listener. */
  interface Following extends AutoCloseable {
    @Override
    void close();
  }

  /** A subscription of the round's own, to refusals only. */
  private Following followRefusals(Consumer<Event> listener) throws IOException {
    return EventSubscription.openExisting(
            connection, topology, List.of(CommandRefused.ROUTING_KEY), listener)
        ::close;
  }

  /**
   * @param refusals where the round hears refusals: followed before its request goes out
   */
  StatusRound.Result status(Target target, Duration timeout, Duration quiet, RefusalFeed refusals)
      throws IOException {
    ControlMessage message = ControlMessages.create(Command.STATUS, target, false);
    BlockingQueue<StatusRound.Answer> answers = new LinkedBlockingQueue<>();
    Channel ch = connection.createChannel();
    try (Following following =
        refusals.follow(
            event -> {
              if (event instanceof Event.Refused r && message.id().equals(r.event().command())) {
                answers.add(new StatusRound.Refusal(r.event()));
              }
            })) {
      ch.basicConsume(
          DIRECT_REPLY_TO,
          true,
          StatusReplies.consumer(ch, message.id(), s -> answers.add(new StatusRound.Reply(s))));
      // Streaming, as the command itself: the mapper's serializer is slow to build on a cold JVM.
      publishOn(ch, message, message.toJson(), DIRECT_REPLY_TO);
      Set<String> expected = target instanceof Target.Workers w ? Set.copyOf(w.names()) : Set.of();
      // Counted after the request went out: every worker counted was listening when it did.
      int listening = expected.isEmpty() ? listening() : 0;
      return StatusRound.collect(answers, expected, listening, timeout, quiet);
    } finally {
      Channels.closeQuietly(ch);
    }
  }

  /**
   * How many workers hear commands now: the consumers of {@link Names#workers()}, or 0 when that
   * cannot be told (no worker has declared it yet, or the broker refused).
   */
  private int listening() {
    try (Channel ch = connection.createChannel()) {
      return ch.queueDeclarePassive(names().workers()).getConsumerCount();
    } catch (IOException | TimeoutException | RuntimeException e) {
      // A missing queue closes the channel: no worker of this version listens.
      return 0;
    }
  }

  @Override
  public void close() {
    Channels.closeQuietly(connection);
  }
}
