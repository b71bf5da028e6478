package dev.conveyor.worker.messaging;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.EventEncoder;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.worker.control.CommandHandler;
import dev.conveyor.worker.execution.ResultLeftOut;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes this worker's events on {@code ns.events} and its replies, in order, from a thread of
 * its own so that a task thread never waits on a socket for a notification. Whenever that thread is
 * free it takes everything queued and sends the task events that share a routing key as one message
 * ({@link EventBatches}, which also says how order is kept). An idle worker sends each event at
 * once, alone. A busy one, whose previous send was less than {@link #GATHER_WINDOW} ago, lets
 * events gather until that window has passed and sends them together: without it a worker running
 * short tasks at a few thousand a second finds its events thread free for almost every event and
 * sends two messages per task, which costs the broker as much as the tasks themselves
 * (docs/benchmarks.md). What a user waits for does not gather: a cancellation ({@code
 * task.cancelled}, the end of a stop or kill) and every message that is not a task event (command
 * answers, worker events) are sent as soon as the thread is free, and one queued while it lets
 * others gather ends the wait. While the connection is down, events wait (up to {@link
 * #OUTAGE_WAIT} from the first one that failed) for amqp-client's recovery and then go out in
 * order: the {@code requeued} outcomes of the tasks that a lost connection took away are among
 * them. After that they are logged, counted and dropped, never allowed to block a task.
 */
public final class EventPublisher implements AutoCloseable, CommandHandler.Answers {
  private static final Logger log = LoggerFactory.getLogger(EventPublisher.class);
  private static final AMQP.BasicProperties JSON =
      new AMQP.BasicProperties.Builder().contentType(Wire.CONTENT_TYPE).build();

  /** How long events wait for a lost connection to come back before they are dropped. */
  static final Duration OUTAGE_WAIT = Duration.ofSeconds(30);

  /**
   * The least time between two sends of a busy events thread: what comes sooner waits for the rest
   * of it, so an event is delayed by at most this, and only when one was sent just before.
   */
  static final Duration GATHER_WINDOW = Duration.ofMillis(2);

  /**
   * How the events thread lets events gather: {@code clock} reads nanoseconds, {@code pause} waits
   * until a {@code clock} time or until it is woken. Injected so tests hold the window open.
   */
  record Gathering(Duration window, LongSupplier clock, Pause pause) {
    static final Gathering REAL =
        new Gathering(
            GATHER_WINDOW,
            System::nanoTime,
            (until, woken) -> {
              long left;
              while (!woken.getAsBoolean() && (left = until - System.nanoTime()) > 0) {
                LockSupport.parkNanos(left); // unparked when woken turns true
              }
            });
  }

  /** Waits until a time of the {@link Gathering#clock}, or until {@code woken} says true. */
  @FunctionalInterface
  interface Pause {
    void until(long nanos, BooleanSupplier woken) throws InterruptedException;
  }

  private final PublishChannel channel;
  private final String exchange;
  private final String worker;
  private final EventLevel level;
  private final Consumer<TaskEvent> observer;
  private final Runnable onDropped;
  private final Duration outageWait;
  private final Gathering gathering;

  /**
   * Events waiting for the events thread, at most: during a long outage a busy worker would
   * otherwise queue them without bound. Past it, new events are dropped and counted.
   */
  static final int QUEUE_CAPACITY = 100_000;

  /** The most queued items the events thread takes at once. */
  private static final int MAX_DRAIN = 5_000;

  /** Put in the queue by {@link #close}: everything before it is sent, then the thread ends. */
  private static final EventBatches.Item STOP = new EventBatches.Item("", "", null, null, null);

  private final BlockingQueue<EventBatches.Item> queue = new LinkedBlockingQueue<>(QUEUE_CAPACITY);
  private final Thread sender;
  private volatile boolean closed;

  /**
   * Set when an urgent item is queued, cleared by the events thread before each drain. With {@link
   * #pausing} it makes sure an urgent item never waits for a window: either the events thread sees
   * the flag before it pauses, or the queuing thread sees it pausing and wakes it.
   */
  private volatile boolean urgentQueued;

  private volatile boolean pausing;

  private final AtomicLong overflowed = new AtomicLong();

  /**
   * @param level which task events are published
   * @param observer sees every task event, published or not (metrics); called on the publishing
   *     thread
   * @param onDropped told of every event given up (metrics): on the events thread after an outage
   *     too long, on the publishing thread when the queue is full
   */
  public EventPublisher(
      Connection connection,
      Topology topology,
      String worker,
      EventLevel level,
      Consumer<TaskEvent> observer,
      Runnable onDropped)
      throws IOException {
    this(connection, topology, worker, level, observer, onDropped, OUTAGE_WAIT, Gathering.REAL);
  }

  /**
   * @param outageWait how long events wait for a lost connection
   * @param gathering how a busy events thread lets events gather
   */
  EventPublisher(
      Connection connection,
      Topology topology,
      String worker,
      EventLevel level,
      Consumer<TaskEvent> observer,
      Runnable onDropped,
      Duration outageWait,
      Gathering gathering)
      throws IOException {
    this.channel = new PublishChannel(connection, topology, false);
    this.exchange = topology.names().eventsExchange();
    this.worker = worker;
    this.level = level;
    this.observer = observer;
    this.onDropped = onDropped;
    this.outageWait = outageWait;
    this.gathering = gathering;
    this.sender = Thread.ofPlatform().name("conveyor-events").daemon().start(this::run);
  }

  /** A task's {@code running} event, stamped with the time its run began. */
  public void running(TaskMessage task, String queue, int attempt, Instant startedAt) {
    announce(
        new TaskEvent(
            task.id(),
            task.type(),
            TaskState.RUNNING,
            worker,
            attempt,
            startedAt,
            null,
            null,
            null,
            null,
            queue,
            null));
  }

  /** A task event stamped now. */
  public void task(
      TaskMessage task,
      String queue,
      int attempt,
      TaskState state,
      Long durationMs,
      Cause cause,
      String reason,
      String issuedBy,
      Object result) {
    JsonNode resultNode = null;
    if (result instanceof ResultLeftOut left) {
      reason = left.appendedTo(reason);
    } else if (result != null) {
      resultNode = Wire.JSON.valueToTree(result);
    }
    announce(
        new TaskEvent(
            task.id(),
            task.type(),
            state,
            worker,
            attempt,
            Instant.now(),
            durationMs,
            cause,
            reason,
            issuedBy,
            queue,
            resultNode));
  }

  private void announce(TaskEvent event) {
    TaskState state = event.state();
    Cause cause = event.cause();
    // Counted here, encoded on the events thread: on a task thread the encoding delays the task
    // it announces, and at short tasks that delay is the worker's rate (docs/benchmarks.md).
    observer.accept(event);
    if (level.publishes(state, cause)) {
      enqueue(
          EventBatches.Item.task(exchange, JSON, event.task() == null ? "" : event.task(), event));
    }
  }

  public void worker(String state, List<String> tasks, String host, long pid) {
    worker(new WorkerEvent(worker, state, Instant.now(), tasks, host, pid));
  }

  public void worker(WorkerEvent event) {
    publish(exchange, event.routingKey(), JSON, Wire.encode(event));
  }

  /**
   * Writes a worker event on the given channel now, on the caller's thread, ahead of anything
   * queued: for an event that must be out before what comes next can end the process. If it cannot
   * be written now, it is queued like any other.
   */
  public void workerNow(Channel channel, WorkerEvent event) {
    byte[] body = Wire.encode(event);
    try {
      channel.basicPublish(exchange, event.routingKey(), JSON, body);
    } catch (IOException | RuntimeException e) {
      log.debug("{} not written at once ({}); queued", event.routingKey(), e.toString());
      publish(exchange, event.routingKey(), JSON, body);
    }
  }

  @Override
  public void applied(CommandApplied applied) {
    publish(exchange, CommandApplied.ROUTING_KEY, JSON, Wire.encode(applied));
  }

  @Override
  public void refused(CommandRefused refused) {
    publish(exchange, CommandRefused.ROUTING_KEY, JSON, Wire.encode(refused));
  }

  /** Answers a request that named a reply-to queue (direct reply-to). */
  @Override
  public void reply(String replyTo, String correlationId, Object body) {
    AMQP.BasicProperties props =
        new AMQP.BasicProperties.Builder()
            .contentType(Wire.CONTENT_TYPE)
            .correlationId(correlationId)
            .build();
    publish("", replyTo, props, Wire.encode(body));
  }

  private void publish(
      String exchange, String routingKey, AMQP.BasicProperties props, byte[] body) {
    enqueue(new EventBatches.Item(exchange, routingKey, props, body, null));
  }

  private void enqueue(EventBatches.Item item) {
    if (closed) {
      log.debug("event {} after close dropped", item.routingKey());
      return;
    }
    if (queue.offer(item)) {
      if (urgent(item)) {
        urgentQueued = true;
        if (pausing) {
          LockSupport.unpark(sender);
        }
      }
    } else {
      long n = overflowed.incrementAndGet();
      if (n == 1 || n % 10_000 == 0) {
        log.warn(
            "{} event(s) dropped: {} are waiting for the broker already (latest: {})",
            n,
            QUEUE_CAPACITY,
            item.routingKey());
      }
      onDropped.run();
    }
  }

  /**
   * The events thread: takes what is queued, as soon as it is free (or, right after a send, once
   * the gathering window has passed), and sends it.
   */
  private void run() {
    List<EventBatches.Item> taken = new ArrayList<>();
    EventEncoder encoder = new EventEncoder();
    long window = gathering.window().toNanos();
    long sentAt = gathering.clock().getAsLong() - window; // nothing sent yet: idle
    try {
      while (true) {
        EventBatches.Item first = queue.take();
        taken.add(first);
        long until = sentAt + window;
        if (first != STOP && !urgent(first) && !closed) {
          pausing = true;
          try {
            if (!urgentQueued && until - gathering.clock().getAsLong() > 0) {
              gathering.pause().until(until, () -> urgentQueued || closed);
            }
          } finally {
            pausing = false;
          }
        }
        urgentQueued = false; // whatever set it is queued already, so the drain takes it
        queue.drainTo(taken, MAX_DRAIN - 1);
        boolean stop = taken.removeIf(item -> item == STOP);
        for (EventBatches.Message m : EventBatches.of(taken, encoder, this::unencodable)) {
          send(m);
        }
        taken.clear();
        if (stop) {
          return;
        }
        sentAt = gathering.clock().getAsLong();
      }
    } catch (InterruptedException e) {
      // close() gave up waiting: what is left is dropped
    }
  }

  /** An event the events thread could not encode: said, counted as dropped, and the rest go on. */
  private void unencodable(EventBatches.Item item, RuntimeException e) {
    log.error(
        "{} event of task {} dropped: it cannot be encoded", item.routingKey(), item.task(), e);
    onDropped.run();
  }

  /**
   * What a user waits for: a cancellation (the end of a stop or kill), or anything that is not a
   * task event (a command's answer, a worker event).
   */
  private static boolean urgent(EventBatches.Item item) {
    return !item.batchable() || item.routingKey().equals(TaskState.CANCELLED.routingKey());
  }

  /** When the events thread gives up waiting for the connection; 0 while it is up. */
  private long giveUpAt;

  private void send(EventBatches.Message m) throws InterruptedException {
    while (true) {
      try {
        channel.publish(m.exchange(), m.routingKey(), m.props(), m.body());
        giveUpAt = 0;
        return;
      } catch (IOException | ShutdownSignalException | TimeoutException e) {
        if (channel.connectionOpen() || !awaitRecovery()) {
          log.warn(
              "{} event(s) {} not published: {}",
              m.events(),
              m.routingKey(),
              BrokerErrors.reason(e));
          for (int i = 0; i < m.events(); i++) {
            onDropped.run();
          }
          return;
        }
      }
    }
  }

  /** Waits for the lost connection, at most until the outage wait after the first failure. */
  private boolean awaitRecovery() throws InterruptedException {
    long now = System.nanoTime();
    if (giveUpAt == 0) {
      giveUpAt = now + outageWait.toNanos();
    }
    return now < giveUpAt && channel.awaitOpen(giveUpAt);
  }

  /**
   * Stops at once, dropping what is queued: for a start that lost its connection, whose events (its
   * {@code worker.started}, its answers to the commands it replayed) would wait for a connection
   * that is about to be closed. The start that begins again announces itself anew.
   */
  public void abandon() {
    closed = true;
    sender.interrupt(); // a thread waiting for the connection ends; what it held is dropped
    try {
      sender.join(CLOSE_WAIT);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    int dropped = queue.size();
    queue.clear();
    if (dropped > 0) {
      log.debug("{} event(s) of a start that lost its connection dropped", dropped);
    }
    channel.close();
  }

  /** Sends what is queued (up to a few seconds), then stops. */
  @Override
  public void close() {
    if (closed && !sender.isAlive()) {
      return; // abandoned
    }
    closed = true;
    try {
      long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
      if (queue.offer(STOP, CLOSE_WAIT.toNanos(), TimeUnit.NANOSECONDS)) {
        LockSupport.unpark(sender); // a gathering events thread sees closed and sends at once
        sender.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (sender.isAlive()) {
      log.warn("events still queued at close were dropped");
      sender.interrupt();
    }
    channel.close();
  }

  /** How long {@link #close} waits for what is queued to be sent. */
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
}
