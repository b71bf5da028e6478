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
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This worker's ear on {@code ns.control}: a private queue bound to the fanout exchange, so every
 * worker hears every command within milliseconds. What it hears goes to the {@link CommandHandler},
 * on amqp-client's dispatch thread: applying a command does no broker I/O.
 *
 * <p>Once it listens, the worker is also counted: it consumes {@code ns.workers}, so that the
 * queue's consumer count is the number of workers that hear commands, and a status round can end as
 * soon as that many answered. That consumer has a channel of its own, so that a failed declaration
 * of the queue cannot close the one that hears commands. amqp-client brings both back after a
 * reconnection; when the queue itself goes (the node that held it was lost, or it was deleted), the
 * broker cancels the consumer and the worker declares the queue and consumes it again, every few
 * seconds until the broker lets it.
 */
public final class ControlListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlListener.class);

  /** How long a worker that could not be counted waits before it tries again. */
  static final Duration RECOUNT_EVERY = Duration.ofSeconds(5);

  private final Connection connection;
  private final Topology topology;
  private final CommandHandler handler;
  private final ScheduledExecutorService retries;
  private Channel channel;
  private volatile Channel counted;
  private boolean closed;

  /** The last attempt to be counted again failed; guarded by {@code this}. */
  private boolean uncounted;

  /**
   * @param retries where a worker that could not declare {@code ns.workers} again tries again (it
   *     waits for the broker)
   */
  public ControlListener(
      Connection connection,
      Topology topology,
      CommandHandler handler,
      ScheduledExecutorService retries) {
    this.connection = connection;
    this.topology = topology;
    this.handler = handler;
    this.retries = retries;
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
            handler.handle(body, props.getHeaders(), props.getReplyTo(), props.getCorrelationId());
          }
        });
    // After the control consumer: a worker counted is one that hears what is published next.
    counted = connection.createChannel();
    beCounted();
  }

  /** Nothing is meant to arrive on {@code ns.workers}; whatever does is dropped. */
  private void beCounted() throws IOException {
    Channel ch = counted;
    ch.basicConsume(
        topology.declareWorkers(ch),
        true,
        new DefaultConsumer(ch) {
          @Override
          public void handleCancel(String consumerTag) {
            // On amqp-client's dispatch thread, one of the task threads: the broker work waits for
            // the io thread.
            execute(ControlListener.this::recount, 0);
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
   * reconnection. Tries again every {@link #RECOUNT_EVERY} until the broker lets it.
   */
  private synchronized void recount() {
    if (closed) {
      return;
    }
    Channels.closeQuietly(counted);
    try {
      counted = connection.createChannel();
      beCounted();
      if (uncounted) {
        uncounted = false;
        log.info("{}: this worker is counted again", topology.names().workers());
      }
    } catch (IOException | RuntimeException e) {
      if (!uncounted) {
        uncounted = true;
        log.warn(
            "{} went and could not be consumed again ({}): this worker still obeys commands, but"
                + " is not counted until it can, so a status round may end before it answers;"
                + " trying again every {} s",
            topology.names().workers(),
            BrokerErrors.reason(e),
            RECOUNT_EVERY.toSeconds());
      }
      execute(this::recount, RECOUNT_EVERY.toMillis());
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    Channels.closeQuietly(counted);
    Channels.closeQuietly(channel);
  }
}
