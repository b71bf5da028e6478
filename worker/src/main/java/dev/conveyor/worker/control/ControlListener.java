package dev.conveyor.worker.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
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
 * earlier worker of the same name.
 *
 * <p>Once it listens, the worker is also counted: it consumes {@code ns.workers}, so that the
 * queue's consumer count is the number of workers that hear commands, and a status round can end as
 * soon as that many answered. That consumer has a channel of its own, so that a failed declaration
 * of the queue cannot close the one that hears commands. amqp-client brings both back after a
 * reconnection; when either queue itself goes (the node that held it was lost, or it was deleted),
 * the broker cancels the consumer and the worker declares the queue and consumes it again, every
 * few seconds until the broker lets it.
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
  private final String queue;
  private final CommandHandler handler;
  private final ScheduledExecutorService retries;

  /** The messages {@link #catchUp} waits for, by correlation id. */
  private final Map<String, CountDownLatch> catchingUp = new ConcurrentHashMap<>();

  /** Where commands are heard; guarded by this. */
  private Channel channel;

  private String consumerTag;
  private volatile Channel counted;
  private volatile String countedTag;
  private boolean closed;

  /** Refusals to count this worker again; guarded by {@code this}. */
  private final RefusalStreak uncounted;

  /** Refusals to let this worker listen again; guarded by {@code this}. */
  private final RefusalStreak deaf;

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
    this.queue = topology.names().commandsFor(worker);
    this.handler = handler;
    this.retries = retries;
    String control = topology.names().controlExchange();
    String workers = topology.names().workers();
    long every = RETRY_EVERY.toSeconds();
    deaf =
        new RefusalStreak(
            log,
            reason ->
                control
                    + ": the broker closed the channel on which this worker hears commands, and it"
                    + " cannot listen again ("
                    + reason
                    + "): it hears no command until it can; trying again every "
                    + every
                    + " s",
            null);
    uncounted =
        new RefusalStreak(
            log,
            reason ->
                workers
                    + " went and could not be consumed again ("
                    + reason
                    + "): this worker still obeys commands, but is not counted until it can, so a"
                    + " status round may end before it answers; trying again every "
                    + every
                    + " s",
            workers + ": this worker is counted again");
  }

  public synchronized void start() throws IOException {
    listen(false, null, true);
    // After the control consumer: a worker counted is one that hears what is published next.
    counted = connection.createChannel();
    beCounted();
    long every = RETRY_EVERY.toMillis();
    retries.scheduleWithFixedDelay(this::bindAgain, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * Returns once every command queued for this worker before the call has been handled, or after
   * the timeout: a message sent through the queue to itself has come back. Called once amqp-client
   * has recovered the connection, before the worker takes tasks again, so that a {@code pause}
   * published while it was away holds back its intake.
   *
   * @return false if it timed out, or the worker does not hear commands now
   */
  public boolean catchUp(Duration timeout) {
    String id = UUID.randomUUID().toString();
    CountDownLatch back = new CountDownLatch(1);
    catchingUp.put(id, back);
    try {
      synchronized (this) {
        if (closed || deaf.on() || !channel.isOpen()) {
          return false;
        }
        channel.basicPublish(
            "",
            queue,
            new AMQP.BasicProperties.Builder().type(CAUGHT_UP).correlationId(id).build(),
            new byte[0]);
      }
      return back.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
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
   * Consumes commands from this worker's queue, declared and bound to the control exchange, on a
   * new channel; {@code declare}: the namespace's exchanges are declared first, on that channel,
   * which lives as long as the worker (amqp-client's recovery declares them again on it). The
   * broker closing that channel (the exchange missing when the queue is bound again, say) or
   * cancelling its consumer (the queue deleted) makes the worker listen again.
   *
   * @param replaced the channel the broker closed, whose number the new one takes, so that
   *     amqp-client's recovery does not open it again ({@link Channels#replacing}); null for none
   * @param purge whether the commands already queued are dropped: those of an earlier worker
   */
  private void listen(boolean declare, Channel replaced, boolean purge) throws IOException {
    Channel ch = Channels.replacing(connection, replaced);
    channel = ch;
    ch.addShutdownListener(
        cause -> {
          if (!cause.isHardError() && !cause.isInitiatedByApplication()) {
            execute(() -> listenAgain(ch, false, BrokerErrors.reason(cause)), 0);
          }
        });
    if (declare) {
      topology.declareCore(ch);
    }
    topology.declareCommands(ch, worker);
    if (purge) {
      ch.queuePurge(queue);
    }
    consumerTag =
        ch.basicConsume(
            queue,
            true,
            new DefaultConsumer(ch) {
              @Override
              public void handleDelivery(
                  String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
                if (envelope.getExchange().isEmpty() && CAUGHT_UP.equals(props.getType())) {
                  CountDownLatch back = catchingUp.get(props.getCorrelationId());
                  if (back != null) {
                    back.countDown();
                  }
                  return;
                }
                handler.handle(
                    body, props.getHeaders(), props.getReplyTo(), props.getCorrelationId());
              }

              @Override
              public void handleCancel(String tag) {
                // On amqp-client's dispatch thread, one of the task threads: the broker work waits
                // for the io thread.
                execute(() -> listenAgain(ch, false, "the broker cancelled its consumer"), 0);
              }
            });
  }

  /**
   * Binds the control queue again: nothing changes while it is bound; an exchange deleted and
   * declared again since has lost the binding, and a missing one closes the channel ({@link
   * #listenAgain}).
   */
  private synchronized void bindAgain() {
    if (closed || deaf.on() || !channel.isOpen()) {
      return;
    }
    try {
      channel.queueBind(queue, topology.names().controlExchange(), "");
    } catch (IOException | RuntimeException e) {
      log.debug("control queue {} not bound again: {}", queue, BrokerErrors.reason(e));
    }
  }

  /**
   * Listens again on a new channel, after the broker closed {@code lost} or cancelled its consumer
   * (for {@code why}): declares the namespace's exchanges (the control exchange may be what was
   * missing) and the queue, keeping what it holds. The old consumer is forgotten first, which
   * amqp-client's recovery would otherwise start again beside the new one. Tries again every {@link
   * #RETRY_EVERY} until the broker lets it.
   */
  private synchronized void listenAgain(Channel lost, boolean retry, String why) {
    if (closed || channel != lost || (deaf.on() && !retry)) {
      return; // closed, listening on a newer channel already, or a retry is due
    }
    if (!retry) {
      log.warn(
          "{}: {} on which this worker hears commands ({}); listening again",
          topology.names().controlExchange(),
          lost.isOpen()
              ? "the broker ended the consumer of " + queue
              : "the broker closed the channel",
          why);
    }
    Channels.forgetConsumer(lost, consumerTag);
    Channels.closeQuietly(lost);
    try {
      listen(true, lost, false);
      deaf.ended();
      log.info("{}: this worker hears commands again", topology.names().controlExchange());
    } catch (IOException | RuntimeException e) {
      deaf.refused(e);
      Channel failed = channel;
      execute(() -> listenAgain(failed, true, why), RETRY_EVERY.toMillis());
    }
  }

  /**
   * Nothing is meant to arrive on {@code ns.workers}; whatever does is dropped. The broker ending
   * the consumer (the queue went) or closing its channel (a declaration refused, amqp-client's
   * after a reconnection among them) makes the worker consume it again.
   */
  private void beCounted() throws IOException {
    Channel ch = counted;
    ch.addShutdownListener(
        cause -> {
          if (!cause.isHardError() && !cause.isInitiatedByApplication()) {
            execute(() -> recount(ch, false), 0);
          }
        });
    countedTag =
        ch.basicConsume(
            topology.declareWorkers(ch),
            true,
            new DefaultConsumer(ch) {
              @Override
              public void handleCancel(String consumerTag) {
                // On amqp-client's dispatch thread, one of the task threads: the broker work waits
                // for the io thread.
                execute(() -> recount(ch, false), 0);
              }
            });
  }

  private void execute(Runnable r, long delayMillis) {
    try {
      retries.schedule(r, delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // the worker is closing
    }
  }

  /**
   * Consumes {@code ns.workers} again, declared again, on a new channel of its own: a failed
   * declaration closes the channel it was made on. The last one is closed first, which makes
   * amqp-client forget the consumer the broker cancelled; its recovery would otherwise consume
   * again with it beside its replacement, and the worker would be counted twice after a
   * reconnection. Tries again every {@link #RETRY_EVERY} until the broker lets it.
   */
  private synchronized void recount(Channel lost, boolean retry) {
    if (closed || counted != lost || (uncounted.on() && !retry)) {
      return; // closed, counted on a newer channel already, or a retry is due
    }
    Channels.forgetConsumer(lost, countedTag);
    Channels.closeQuietly(lost);
    try {
      counted = Channels.replacing(connection, lost);
      beCounted();
      uncounted.ended();
    } catch (IOException | RuntimeException e) {
      uncounted.refused(e);
      Channel failed = counted;
      execute(() -> recount(failed, true), RETRY_EVERY.toMillis());
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
    Channels.closeQuietly(counted);
    if (channel != null && channel.isOpen()) {
      try {
        channel.queueDelete(queue);
      } catch (IOException | RuntimeException e) {
        log.debug("{} not deleted: {}", queue, BrokerErrors.reason(e));
      }
    }
    Channels.closeQuietly(channel);
  }
}
