package dev.conveyor.worker.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.KeptConsumer;
import dev.conveyor.protocol.broker.KeptQueueName;
import dev.conveyor.protocol.topology.Topology;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This worker's ear on {@code ns.control}: its queue of commands ({@link
 * dev.conveyor.protocol.topology.Names#commandsFor}) bound to the fanout exchange, so every worker
 * hears every command within milliseconds. What it hears goes to the {@link CommandHandler}, on
 * amqp-client's dispatch thread: applying a command does no broker I/O.
 *
 * <p>The queue outlives the worker's connection (for {@link Topology#COMMANDS_KEPT_FOR}), so a
 * command published while the worker reconnects waits there; after the recovery, {@link #catchUp}
 * returns once everything queued before it has been handled, which the worker waits for before it
 * takes tasks again. A worker that starts empties the queue first: what is in it was meant for an
 * earlier worker of the same name. The queue is durable and lives on one node: while that node is
 * down the worker moves to a queue of another name ({@link KeptQueueName}).
 *
 * <p>Once it listens, the worker is also counted: it consumes {@code ns.workers}, a quorum queue
 * (which outlives the loss of a node), so that the queue's consumer count is the number of workers
 * that hear commands, and a status round can end as soon as that many answered. That consumer has a
 * channel of its own, so that a failed declaration of the queue cannot close the one that hears
 * commands. amqp-client brings both back after a reconnection; when either queue is deleted, or its
 * declaration refused, the broker cancels the consumer or closes its channel, and the worker
 * declares the queue and consumes it again, every few seconds until the broker lets it. A worker
 * that cannot be counted at its start (an older Conveyor's {@code ns.workers}, declared otherwise,
 * is in use) starts all the same, and tries so until it can.
 *
 * <p>The broker drops the bindings of an exchange that is deleted, and tells no one: a control
 * exchange deleted under the workers (and declared again by the next {@code control} command) would
 * leave them deaf, still counted, until they reconnect. So every {@link #RETRY_EVERY} the worker
 * binds its queue again (a no-op while it is bound). If the exchange is missing, the broker closes
 * the channel, as it would for any other refusal; the worker then listens again on a new channel,
 * declaring what it needs, until the broker lets it.
 */
public final class ControlListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlListener.class);

  /**
   * How often a worker binds its control queue again, and how long one that could not listen or be
   * counted waits before it tries again.
   */
  static final Duration RETRY_EVERY = Duration.ofSeconds(5);

  /** The AMQP type of the message {@link #catchUp} sends itself through the queue. */
  private static final String CAUGHT_UP = "conveyor.caught-up";

  private final Connection connection;
  private final Topology topology;
  private final String worker;
  private final KeptQueueName queue;
  private final CommandHandler handler;
  private final ScheduledExecutorService retries;

  /** The messages {@link #catchUp} waits for, by correlation id. */
  private final Map<String, CountDownLatch> catchingUp = new ConcurrentHashMap<>();

  // Guarded by this. Null until started.
  private KeptConsumer commands;
  private KeptConsumer counted;
  private boolean closed;

  /**
   * @param worker whose commands these are: the queue is named after it
   * @param retries where the worker binds its control queue again, and tries again to listen or to
   *     be counted (it waits for the broker)
   */
  public ControlListener(
      Connection connection,
      Topology topology,
      String worker,
      CommandHandler handler,
      ScheduledExecutorService retries) {
    this.connection = connection;
    this.topology = topology;
    this.worker = worker;
    this.queue = new KeptQueueName(connection, topology.names().commandsFor(worker));
    this.handler = handler;
    this.retries = retries;
  }

  public synchronized void start() throws IOException {
    commands =
        KeptConsumer.start(
            connection,
            queue.declaration(this::declareCommands),
            this::heard,
            retries,
            RETRY_EVERY,
            new Deaf());
    // After the control consumer: a worker counted is one that hears what is published next.
    counted =
        KeptConsumer.startTrying(
            connection,
            (ch, again) -> topology.declareWorkers(ch),
            (envelope, props, body) -> {}, // nothing is meant to arrive; whatever does is dropped
            retries,
            RETRY_EVERY,
            new Uncounted());
    long every = RETRY_EVERY.toMillis();
    retries.scheduleWithFixedDelay(this::bindAgain, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * Returns once every command queued for this worker before the call has been handled, or after
   * the timeout: a message sent through the queue to itself has come back. Called once amqp-client
   * has recovered the connection, before the worker takes tasks again, so that a {@code pause}
   * published while it was away holds back its intake. A consumer of commands the broker ended (the
   * recovery's declaration of a queue whose node is down, refused) is waited for while it is made
   * again, within the same timeout.
   *
   * @return false if it timed out, or the listener is closed
   */
  public boolean catchUp(Duration timeout) {
    String id = UUID.randomUUID().toString();
    CountDownLatch back = new CountDownLatch(1);
    catchingUp.put(id, back);
    try {
      KeptConsumer ear;
      synchronized (this) {
        ear = closed ? null : commands;
      }
      long start = System.nanoTime();
      boolean sent =
          ear != null
              && ear.onChannelOnceConsuming(
                  timeout,
                  ch ->
                      ch.basicPublish(
                          "",
                          queue.name(),
                          new AMQP.BasicProperties.Builder()
                              .type(CAUGHT_UP)
                              .correlationId(id)
                              .build(),
                          new byte[0]));
      long left = timeout.toNanos() - (System.nanoTime() - start);
      return sent && back.await(left, TimeUnit.NANOSECONDS);
    } catch (IOException | RuntimeException e) {
      log.warn("could not hear the commands queued for {}: {}", worker, BrokerErrors.reason(e));
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      catchingUp.remove(id);
    }
  }

  /**
   * Makes this worker's queue of commands again, so that only this connection hears them ({@link
   * KeptConsumer#consumeAlone}): after a reconnection, while the broker still holds the connection
   * the worker lost.
   */
  public void consumeAlone() {
    KeptConsumer ear;
    synchronized (this) {
      ear = closed ? null : commands;
    }
    if (ear != null) {
      ear.consumeAlone(queue.name());
    }
  }

  /**
   * Declares this worker's queue of commands, bound to the control exchange. Again (the broker
   * closed the last channel, or cancelled its consumer): the namespace's exchanges first, as the
   * control exchange may be what was missing, and the queue keeps what it holds. At the start the
   * exchanges are the worker's to declare, and the queue is emptied: what an earlier worker of this
   * name left there was meant for that one. A queue that cannot be declared under its name (its
   * node is down, or an older Conveyor declared it otherwise) is left for another ({@link
   * KeptQueueName}).
   */
  private String declareCommands(Channel ch, boolean again, String name) throws IOException {
    if (again) {
      topology.declareCore(ch);
    }
    topology.declareCommands(ch, name);
    if (!again) {
      ch.queuePurge(name);
    }
    return name;
  }

  /** On amqp-client's dispatch thread: applying a command does no broker I/O. */
  private void heard(Envelope envelope, AMQP.BasicProperties props, byte[] body) {
    if (envelope.getExchange().isEmpty() && CAUGHT_UP.equals(props.getType())) {
      CountDownLatch back = catchingUp.get(props.getCorrelationId());
      if (back != null) {
        back.countDown();
      }
      return;
    }
    handler.handle(body, props.getHeaders(), props.getReplyTo(), props.getCorrelationId());
  }

  /**
   * Binds the control queue again: nothing changes while it is bound; an exchange deleted and
   * declared again since has lost the binding, and a missing one closes the channel, on which the
   * worker listens again.
   */
  private void bindAgain() {
    KeptConsumer ear;
    synchronized (this) {
      ear = closed ? null : commands;
    }
    try {
      if (ear != null) {
        ear.onChannel(ch -> ch.queueBind(queue.name(), topology.names().controlExchange(), ""));
      }
    } catch (IOException | RuntimeException e) {
      log.debug("control queue {} not bound again: {}", queue.name(), BrokerErrors.reason(e));
    }
  }

  /** What this worker says when it loses its ear on the control exchange, and when it is back. */
  private final class Deaf implements KeptConsumer.Notices {
    @Override
    public void lost(String why) {
      log.warn(
          "{}: lost the consumer of {}, on which this worker hears commands: {}; listening again",
          topology.names().controlExchange(),
          queue.name(),
          why);
    }

    @Override
    public void refused(String reason) {
      log.warn(
          "{}: this worker cannot listen again ({}): it hears no command until it can; trying"
              + " again every {} s",
          topology.names().controlExchange(),
          reason,
          RETRY_EVERY.toSeconds());
    }

    @Override
    public void back(int refusals) {
      log.info("{}: this worker hears commands again", topology.names().controlExchange());
    }
  }

  /** What this worker says when it is no longer counted on {@code ns.workers}, and when it is. */
  private final class Uncounted implements KeptConsumer.Notices {
    @Override
    public void lost(String why) {
      log.debug("{}: lost this worker's consumer: {}", topology.names().workers(), why);
    }

    @Override
    public void refused(String reason) {
      log.warn(
          "{} could not be consumed ({}): this worker still obeys commands, but is not counted"
              + " until it can, so a status round may end before it answers; trying again every {}"
              + " s",
          topology.names().workers(),
          reason,
          RETRY_EVERY.toSeconds());
    }

    @Override
    public void back(int refusals) {
      if (refusals > 0) {
        log.info("{}: this worker is counted again", topology.names().workers());
      }
    }
  }

  /**
   * Stops listening, and deletes the queue: the worker is gone, and nothing is to wait for it. A
   * worker that dies without closing leaves it to the broker, which deletes it after {@link
   * Topology#COMMANDS_KEPT_FOR}.
   */
  @Override
  public synchronized void close() {
    closed = true;
    if (counted != null) {
      counted.close();
    }
    if (commands != null) {
      commands.close(ch -> ch.queueDelete(queue.name()));
    }
  }
}
