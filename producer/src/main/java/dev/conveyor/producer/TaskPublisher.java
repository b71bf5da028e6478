package dev.conveyor.producer;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.BlockedListener;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownListener;
import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.broker.WriteBatch;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes tasks to {@code ns.tasks} so that a return from {@code publish} means the broker has
 * the task on disk: every message is persistent and {@code mandatory}, and the call waits for the
 * publisher confirm. A nack, an unroutable (returned) message or a lost connection is a {@link
 * PublishException}, never a silent loss.
 *
 * <p>It declares the exchanges and each task queue it publishes to (idempotently, once per queue),
 * so producers may start before any worker. Publishes are serialised: confirms are tracked per
 * channel, so one publisher uses one channel. Use several publishers for parallel publishing.
 *
 * <pre>{@code
 * try (TaskPublisher publisher = TaskPublisher.open(settings)) {
 *   TaskMessage task = publisher.publish(TaskSpec.of("sleep").payload(Map.of("seconds", 2)).build());
 * }
 * }</pre>
 */
public final class TaskPublisher implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(TaskPublisher.class);

  public static final String DEFAULT_QUEUE = "default";

  /**
   * Unconfirmed messages allowed in flight by {@link #publishAll}: large enough to hide the
   * round-trip and the quorum queue's fsync, small enough to bound what a failure leaves unknown.
   */
  public static final int DEFAULT_WINDOW = 1000;

  public static final Duration DEFAULT_CONFIRM_TIMEOUT = Duration.ofSeconds(30);

  static final String CONNECTION_NAME = "conveyor-producer";

  private final Connection connection;
  private final boolean ownsConnection;
  private final Topology topology;
  private final BlockedListener blockedListener;
  private final ShutdownListener unblockOnShutdown = sig -> blockedFor = null;

  /**
   * Why the broker blocks this connection's publishes (a memory or disk alarm), or null. While it
   * does, waiting for confirms does not time out: the broker said why nothing moves.
   */
  private volatile String blockedFor;

  private volatile Consumer<String> onBlocked =
      reason -> log.warn("the broker is blocking publishers ({}); waiting", reason);
  private volatile Runnable onUnblocked = () -> log.warn("the broker unblocked publishers");

  // Guarded by this: one publishing call at a time.
  private final Set<String> declaredQueues = new HashSet<>();
  private Channel channel;
  private int window = DEFAULT_WINDOW;
  private Duration confirmTimeout = DEFAULT_CONFIRM_TIMEOUT;
  private boolean closed;

  // Guarded by lock: written by the connection's thread (confirms, returns, shutdown).
  private final Object lock = new Object();
  private final InFlight inFlight = new InFlight(DEFAULT_WINDOW);
  private final Map<String, String> returned = new HashMap<>();
  private long unblocks;

  private TaskPublisher(Connection connection, Names names, boolean ownsConnection)
      throws IOException {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.topology = new Topology(Objects.requireNonNull(names, "names"));
    this.ownsConnection = ownsConnection;
    this.blockedListener =
        connection.addBlockedListener(
            reason -> {
              blockedFor = reason == null || reason.isBlank() ? "resource alarm" : reason;
              onBlocked.accept(blockedFor);
            },
            () -> {
              blockedFor = null;
              synchronized (lock) {
                unblocks++; // the confirm timeout starts again from now
                lock.notifyAll();
              }
              onUnblocked.run();
            });
    // A block belongs to the connection: a recovered one starts unblocked.
    connection.addShutdownListener(unblockOnShutdown);
    synchronized (this) {
      channel();
    }
  }

  /** Connects to the broker and owns the connection: {@link #close()} closes it. */
  public static TaskPublisher open(BrokerSettings settings)
      throws BrokerUnreachableException, IOException {
    Connection connection = new BrokerConnector(settings).connect(CONNECTION_NAME);
    try {
      return new TaskPublisher(connection, settings.names(), true);
    } catch (IOException | RuntimeException e) {
      Channels.closeQuietly(connection);
      throw e;
    }
  }

  /**
   * Publishes over a connection the application already has (and keeps: {@link #close()} leaves it
   * open), so that one connection can serve a publisher and, say, an event subscription.
   */
  public static TaskPublisher open(Connection connection, Names names) throws IOException {
    return new TaskPublisher(connection, names, false);
  }

  /** How many unconfirmed messages {@link #publishAll} keeps in flight. */
  public synchronized TaskPublisher window(int window) {
    if (window < 1) {
      throw new IllegalArgumentException("window must be at least 1");
    }
    this.window = window;
    return this;
  }

  /**
   * Who hears that the broker blocks publishers (a memory or disk alarm: {@code reason} is the
   * broker's, e.g. {@code low on memory}) and that it stopped; called on the connection's thread.
   * By default both are logged.
   */
  public TaskPublisher onBlocked(Consumer<String> blocked, Runnable unblocked) {
    this.onBlocked = Objects.requireNonNull(blocked, "blocked");
    this.onUnblocked = Objects.requireNonNull(unblocked, "unblocked");
    return this;
  }

  /**
   * How long to wait for the broker to confirm anything at all before giving up. It does not run
   * while the broker blocks publishers ({@link #onBlocked}): then the wait lasts until the alarm
   * clears, and the timeout starts again from there.
   */
  public synchronized TaskPublisher confirmTimeout(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("confirm timeout must be positive");
    }
    this.confirmTimeout = timeout;
    return this;
  }

  /** Publishes to the {@code default} queue; see {@link #publish(String, TaskMessage)}. */
  public TaskMessage publish(TaskMessage task) throws IOException {
    return publish(DEFAULT_QUEUE, task);
  }

  /**
   * Publishes one task and returns once the broker has confirmed it.
   *
   * @return the task as sent, with its {@code id} and {@code createdAt} filled in
   * @throws PublishException if the broker refused, could not route, or did not confirm it
   * @throws IOException if the queue cannot be declared (e.g. it exists with other arguments)
   * @throws IllegalArgumentException if the task is invalid (no type, bad limits)
   */
  public TaskMessage publish(String queue, TaskMessage task) throws IOException {
    List<TaskMessage> out = new ArrayList<>(1);
    publishAll(queue, List.of(task), out::addAll);
    return out.getFirst();
  }

  /**
   * Publishes many tasks, keeping up to {@link #window} unconfirmed, and returns when all are
   * confirmed.
   *
   * @return the tasks as sent, in order, with ids and {@code createdAt} filled in
   */
  public List<TaskMessage> publishAll(String queue, Iterable<TaskMessage> tasks)
      throws IOException {
    List<TaskMessage> out = new ArrayList<>();
    publishAll(queue, tasks, out::addAll);
    return out;
  }

  /**
   * Publishes many tasks without holding them all in memory. {@code onConfirmed} receives the
   * confirmed tasks in publish order, in batches, on the calling thread, as soon as each prefix is
   * confirmed, so a caller can report progress or record ids while later tasks are still in flight.
   * Publishing stops at the first task that is not confirmed; the tasks still in flight are then
   * settled (and reported to {@code onConfirmed} if confirmed) before the exception is thrown.
   *
   * <p>Tasks given as a {@link Collection} are written to the socket several at a time on a
   * connection from {@link #open(BrokerSettings)} or {@link BrokerConnector} (one system call for
   * what fits 8 KiB instead of one per task), and always before the publisher waits for a confirm
   * or calls {@code onConfirmed}. Any other {@code Iterable} may block between two tasks (a stream
   * being read), so each of its tasks is written as it is published.
   *
   * @throws PublishException naming the tasks that were not confirmed
   */
  public synchronized void publishAll(
      String queue, Iterable<TaskMessage> tasks, Consumer<List<TaskMessage>> onConfirmed)
      throws IOException {
    if (closed) {
      throw new IllegalStateException("publisher is closed");
    }
    Names.checkQueueName(queue);
    declare(queue);
    Channel ch = channel();
    String exchange = topology.names().tasksExchange();
    Map<String, String> failures = new LinkedHashMap<>();
    long[] confirmed = {0};
    Consumer<List<TaskMessage>> counting =
        batch -> {
          confirmed[0] += batch.size();
          onConfirmed.accept(batch);
        };
    RuntimeException badInput = null;
    // A collection is all there: its tasks are written in batches. Any other source may block
    // between two tasks, so what was published before is written first.
    boolean holdWrites = tasks instanceof Collection<?>;
    try (WriteBatch writes = WriteBatch.open()) {
      Iterator<TaskMessage> it = tasks.iterator();
      while (failures.isEmpty()) {
        TaskMessage task;
        try {
          if (!it.hasNext()) {
            break;
          }
          task = complete(it.next());
        } catch (RuntimeException e) {
          // Settle what is in flight first, so that the caller learns what was published.
          badInput = e;
          break;
        }
        awaitInFlightAtMost(window - 1, failures, counting, writes);
        if (!failures.isEmpty()) {
          break;
        }
        long seq = ch.getNextPublishSeqNo();
        synchronized (lock) {
          inFlight.add(seq, task);
        }
        try {
          ch.basicPublish(exchange, queue, true, properties(task), Wire.encode(task));
        } catch (IOException | AlreadyClosedException e) {
          settle(seq, false, "publish failed: " + BrokerErrors.reason(e));
        }
        if (!holdWrites) {
          flush(writes);
        }
        drainSettled(failures, counting, writes);
      }
      awaitInFlightAtMost(0, failures, counting, writes);
    } finally {
      synchronized (lock) {
        // Only non-empty when the callback threw: nothing more will be reported for these.
        inFlight.clear();
        returned.clear();
      }
    }
    if (!failures.isEmpty()) {
      PublishException e = new PublishException(failures, confirmed[0]);
      if (badInput != null) {
        e.addSuppressed(badInput);
      }
      throw e;
    }
    if (badInput != null) {
      throw badInput;
    }
  }

  /**
   * The task as it will be sent: a generated id if it has none, {@code createdAt} now if unset, and
   * the limits checked the way a worker checks them, so that nothing the worker would reject for
   * its shape is published.
   */
  public static TaskMessage complete(TaskMessage task) {
    return complete(task, Clock.systemUTC());
  }

  static TaskMessage complete(TaskMessage task, Clock clock) {
    Objects.requireNonNull(task, "task");
    task.problem()
        .ifPresent(
            p -> {
              throw new IllegalArgumentException(p);
            });
    fitsShortString("id", "message-id", task.id());
    fitsShortString("type", "type", task.type());
    if (task.id() != null && !task.id().isBlank() && task.createdAt() != null) {
      return task;
    }
    Instant created =
        task.createdAt() != null
            ? task.createdAt()
            : clock.instant().truncatedTo(ChronoUnit.MILLIS);
    return new TaskMessage(
        task.id() == null || task.id().isBlank() ? Ids.newId() : task.id(),
        task.type(),
        task.payload(),
        task.timeoutMs(),
        task.graceMs(),
        task.maxAttempts(),
        task.expiresAt(),
        created);
  }

  /**
   * The id and the type also travel as the message's AMQP properties, short strings of at most 255
   * bytes: amqp-client refuses a longer one as the message is written, after the tasks before it.
   */
  private static void fitsShortString(String field, String property, String value) {
    if (value == null || value.length() <= 85) {
      return; // at most 3 bytes per char in UTF-8: fits without encoding it (on every publish)
    }
    int bytes = value.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > 255) {
      throw new IllegalArgumentException(
          field
              + " is "
              + bytes
              + " bytes long in UTF-8, at most 255: it is also the message's AMQP "
              + property);
    }
  }

  static AMQP.BasicProperties properties(TaskMessage task) {
    return new AMQP.BasicProperties.Builder()
        .messageId(task.id())
        .contentType(Wire.CONTENT_TYPE)
        .deliveryMode(2)
        .type(task.type())
        .timestamp(Date.from(task.createdAt()))
        .appId(CONNECTION_NAME)
        .build();
  }

  private void declare(String queue) throws IOException {
    Channel ch = channel(); // first: a replaced channel forgets what it declared
    if (declaredQueues.contains(queue)) {
      return;
    }
    try {
      if (declaredQueues.isEmpty()) {
        topology.declareCore(ch);
      }
      topology.declareTaskQueue(ch, queue);
    } catch (IOException | AlreadyClosedException e) {
      throw new IOException(
          "cannot declare queue "
              + topology.names().taskQueue(queue)
              + ": "
              + BrokerErrors.reason(e),
          e);
    }
    declaredQueues.add(queue);
  }

  /**
   * The publishing channel. A channel the broker closed for an error (not a lost connection, which
   * automatic recovery handles) is replaced, on its number ({@link Channels#replacing}), so that
   * amqp-client's recovery does not open the closed one again beside it.
   */
  private Channel channel() throws IOException {
    if (channel != null && (channel.isOpen() || !connection.isOpen())) {
      return channel;
    }
    if (!connection.isOpen()) {
      throw new IOException("the connection to the broker is closed");
    }
    Channel ch = Channels.replacing(connection, channel);
    if (ch == null) {
      throw new IOException("the broker has no channel left for this connection");
    }
    ch.confirmSelect();
    ch.addConfirmListener(
        (seq, multiple) -> settle(seq, multiple, null),
        (seq, multiple) -> settle(seq, multiple, "refused by the broker (nack)"));
    ch.addReturnListener(
        r -> {
          synchronized (lock) {
            returned.put(
                r.getProperties().getMessageId(),
                "unroutable: "
                    + r.getReplyText()
                    + " (exchange "
                    + r.getExchange()
                    + ", routing key '"
                    + r.getRoutingKey()
                    + "')");
          }
        });
    ch.addShutdownListener(
        sig ->
            abandonInFlight(
                "channel closed before the broker confirmed: " + BrokerErrors.reason(sig)));
    if (channel != null && !declaredQueues.isEmpty()) {
      log.warn("publishing channel was closed by the broker; opened a new one");
    }
    channel = ch;
    declaredQueues.clear();
    return ch;
  }

  private void settle(long seq, boolean multiple, String failure) {
    synchronized (lock) {
      inFlight.settle(seq, multiple, failure == null ? InFlight.ACKED : failure);
      lock.notifyAll();
    }
  }

  private void abandonInFlight(String reason) {
    synchronized (lock) {
      abandon(reason);
      lock.notifyAll();
    }
  }

  /**
   * Waits until at most {@code limit} messages are in flight, handing on settled ones as they come.
   * A message counts as in flight until it has been handed on, so with {@code limit} 0 every
   * outcome has been reported when this returns. The timeout counts from the last confirm, so a
   * slow but moving broker is not a failure, nor is one that blocks publishers for an alarm.
   */
  private void awaitInFlightAtMost(
      int limit,
      Map<String, String> failures,
      Consumer<List<TaskMessage>> onConfirmed,
      WriteBatch writes) {
    ConfirmWait wait = new ConfirmWait(confirmTimeout);
    while (true) {
      drainSettled(failures, onConfirmed, writes);
      synchronized (lock) {
        if (inFlight.size() <= limit) {
          return;
        }
        if (inFlight.headSettled()) {
          continue; // settled since the drain: hand it on first
        }
        if (!writes.holding()) {
          long left =
              wait.left(System.nanoTime(), inFlight.unsettled(), blockedFor != null, unblocks);
          if (left <= 0) {
            abandon(
                "not confirmed within "
                    + Durations.format(confirmTimeout)
                    + " (is the broker blocked or overloaded?)");
          } else {
            try {
              lock.wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              abandon("interrupted while waiting for the confirm");
            }
          }
          continue;
        }
      }
      // Publishes the batch still holds cannot be confirmed: written before waiting, outside the
      // lock that the confirms need.
      flush(writes);
    }
  }

  /** Caller holds {@code lock}. */
  private void abandon(String reason) {
    inFlight.settleAll(reason);
  }

  /**
   * Writes what {@code writes} holds. A failed write leaves the connection to recover, so nothing
   * in flight will be confirmed.
   */
  private void flush(WriteBatch writes) {
    try {
      writes.flush();
    } catch (IOException e) {
      abandonInFlight("publish failed: " + BrokerErrors.reason(e));
    }
  }

  /**
   * Hands on the settled prefix of the in-flight messages, keeping publish order. What {@code
   * writes} holds is written first, as the callback may block.
   */
  private void drainSettled(
      Map<String, String> failures, Consumer<List<TaskMessage>> onConfirmed, WriteBatch writes) {
    List<TaskMessage> ok;
    synchronized (lock) {
      if (!inFlight.headSettled()) {
        return; // the common case while publishing: nothing to allocate
      }
      ok = new ArrayList<>();
      inFlight.drainSettled(
          (task, outcome) -> {
            String unroutable = returned.isEmpty() ? null : returned.remove(task.id());
            if (outcome.equals(InFlight.ACKED) && unroutable == null) {
              ok.add(task);
            } else {
              failures.put(task.id(), unroutable != null ? unroutable : outcome);
            }
          });
    }
    if (!ok.isEmpty()) {
      flush(writes);
      onConfirmed.accept(List.copyOf(ok));
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    connection.removeBlockedListener(blockedListener);
    connection.removeShutdownListener(unblockOnShutdown);
    Channels.closeQuietly(channel);
    if (ownsConnection) {
      Channels.closeQuietly(connection);
    }
  }
}
