package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.producer.TaskPublisher;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.Worker;
import dev.conveyor.worker.WorkerConfig;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Timed drains of a queue of pre-published noop tasks by the consumers that {@code throughput} and
 * {@code scaling} compare: bare amqp-client consumers ({@link Raw}), in-process Conveyor workers
 * and {@code bin/worker} processes. A Conveyor drain ends at the receipt of the last outcome event,
 * counted by routing key and by a streaming count of the events in each message (one object, or an
 * array of a batch) without decoding them: the measuring JVM takes no more CPU from the worker it
 * may host than it must.
 */
final class Drains implements AutoCloseable {

  static final String NOOP = "{\"type\":\"noop\"}";
  private static final String STARTED_KEY = "worker.started";
  private static final String RUNNING_KEY = TaskState.RUNNING.routingKey();
  private static final String SUCCEEDED_KEY = TaskState.SUCCEEDED.routingKey();
  private static final List<String> KEYS =
      List.of(
          SUCCEEDED_KEY,
          TaskState.FAILED.routingKey(),
          TaskState.REJECTED.routingKey(),
          TaskState.DEAD.routingKey(),
          STARTED_KEY);
  private static final AMQP.BasicProperties EVENT_PROPS =
      new AMQP.BasicProperties.Builder().contentType(Wire.CONTENT_TYPE).build();
  private static final byte[] RUNNING_EVENT = sampleEvent("running", "");
  private static final byte[] SUCCEEDED_EVENT = sampleEvent("succeeded", ",\"durationMs\":0");

  /**
   * A bare amqp-client consumer on its own connection: {@code basicQos(prefetch)}, an ack with
   * {@code multiple=true} every {@code ackEvery} deliveries (1: one ack per message), and with
   * {@code events} the two events per task the protocol asks of a worker ({@code task.running}
   * before the ack, {@code task.succeeded} after it: fixed bodies of a worker's size, on a second
   * channel). With {@code threads}, each delivery is handed to one of {@code prefetch} task threads
   * that acks it, and the events go out from one events thread: the shape of a worker, with none of
   * its code.
   */
  record Raw(String label, int prefetch, int ackEvery, boolean events, boolean threads) {
    Raw {
      if (ackEvery < 1 || ackEvery > prefetch || (threads && ackEvery != 1)) {
        throw new IllegalArgumentException(
            label + ": ack every 1.." + prefetch + " deliveries, and 1 with task threads");
      }
    }
  }

  private final Harness h;
  private final int timeoutSeconds;
  private final Connection rawConnection;
  private final OptionalLong brokerPid;
  private final EventSubscription sub;
  private final AtomicInteger workersStarted = new AtomicInteger();
  private volatile Drain current;

  /** What a Conveyor drain counts, on the subscription's thread. */
  private static final class Drain {
    final int expected;
    final AtomicInteger outcomes = new AtomicInteger();
    final AtomicInteger notSucceeded = new AtomicInteger();
    final AtomicInteger messages = new AtomicInteger();
    final CountDownLatch done = new CountDownLatch(1);
    volatile long end;

    Drain(int expected) {
      this.expected = expected;
    }
  }

  Drains(Harness h, URI uri, int timeoutSeconds) throws Exception {
    this.h = h;
    this.timeoutSeconds = timeoutSeconds;
    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(uri);
    factory.setVirtualHost("/");
    this.rawConnection = factory.newConnection("conveyor-bench raw consumer");
    this.brokerPid = CpuUse.listenerOf(factory.getPort());
    this.sub = EventSubscription.openRaw(h.connection(), h.topology(), KEYS, this::onEvent);
  }

  private void onEvent(String routingKey, byte[] body) {
    long now = System.nanoTime();
    int n = Wire.countEvents(body);
    if (routingKey.equals(STARTED_KEY)) {
      workersStarted.addAndGet(n);
      return;
    }
    Drain d = current;
    if (d == null) {
      return; // a raw consumer's stand-in events, or stragglers
    }
    if (!routingKey.equals(SUCCEEDED_KEY)) {
      d.notSucceeded.addAndGet(n);
    }
    d.messages.incrementAndGet();
    if (d.outcomes.addAndGet(n) >= d.expected && d.done.getCount() > 0) {
      d.end = now;
      d.done.countDown();
    }
  }

  /** The events of one message, each as its own JSON body (a batch is a JSON array of them). */
  static List<byte[]> elements(byte[] body) {
    if (!Wire.isBatch(body)) {
      return List.of(body);
    }
    try {
      List<byte[]> out = new ArrayList<>();
      for (com.fasterxml.jackson.databind.JsonNode e : Wire.JSON.readTree(body)) {
        out.add(Wire.JSON.writeValueAsBytes(e));
      }
      return out;
    } catch (IOException e) {
      return List.of(body); // let the decoder name what is wrong
    }
  }

  /**
   * Publishes n noop tasks (confirmed) into an empty queue, as {@code bin/producer} does: with
   * {@link TaskPublisher}, so that each carries its id and {@code createdAt}, which a worker reads.
   */
  void publishNoops(int n) throws IOException {
    long ready = h.depth();
    if (ready != 0) {
      progress("queue not empty before a run (%d ready): purging", ready);
      h.purge();
    }
    long t0 = System.nanoTime();
    TaskMessage noop = new TaskMessage(null, "noop", null, null, null, null, null, null);
    try (TaskPublisher publisher = TaskPublisher.open(h.connection(), h.names())) {
      // A collection: written several publishes at a time, as bin/producer writes them.
      publisher.publishAll(Harness.QUEUE, Collections.nCopies(n, noop), confirmed -> {});
    }
    double s = (System.nanoTime() - t0) / 1e9;
    progress("published %d tasks with confirms in %.2f s (%.0f msg/s)", n, s, n / s);
  }

  /** Drains n tasks with a bare consumer; timed from just before basicConsume to the n-th ack. */
  Rounds.Measured raw(Raw spec, int n) throws Exception {
    publishNoops(n);
    Channel ch = rawConnection.createChannel();
    ch.basicQos(spec.prefetch());
    Channel eventChannel = spec.events() ? rawConnection.createChannel() : null;
    ExecutorService taskThreads =
        spec.threads()
            ? Executors.newFixedThreadPool(
                spec.prefetch(), Thread.ofPlatform().name("bench-raw-task-", 1).factory())
            : null;
    ExecutorService eventThread =
        spec.threads()
            ? Executors.newSingleThreadExecutor(
                Thread.ofPlatform().name("bench-raw-events").factory())
            : null;
    String exchange = h.names().eventsExchange();
    CountDownLatch done = new CountDownLatch(1);
    AtomicInteger acked = new AtomicInteger();
    AtomicReference<IOException> failure = new AtomicReference<>();
    long[] end = new long[1];
    int[] unacked = new int[1]; // only touched by the connection's delivery thread (no threads)
    IoAction running =
        () -> eventChannel.basicPublish(exchange, RUNNING_KEY, EVENT_PROPS, RUNNING_EVENT);
    IoAction succeeded =
        () -> eventChannel.basicPublish(exchange, SUCCEEDED_KEY, EVENT_PROPS, SUCCEEDED_EVENT);
    DefaultConsumer consumer =
        new DefaultConsumer(ch) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
            long deliveryTag = envelope.getDeliveryTag();
            IoAction settle =
                () -> {
                  if (spec.events()) {
                    on(eventThread, running);
                  }
                  int settled = 1;
                  if (spec.ackEvery() == 1) {
                    ch.basicAck(deliveryTag, false);
                  } else if (++unacked[0] >= spec.ackEvery() || acked.get() + unacked[0] == n) {
                    ch.basicAck(deliveryTag, true);
                    settled = unacked[0];
                    unacked[0] = 0;
                  } else {
                    settled = 0;
                  }
                  if (spec.events()) {
                    on(eventThread, succeeded);
                  }
                  if (settled > 0 && acked.addAndGet(settled) == n) {
                    end[0] = System.nanoTime();
                    done.countDown();
                  }
                };
            Runnable guarded =
                () -> {
                  try {
                    settle.run();
                  } catch (IOException e) {
                    failure.compareAndSet(null, e);
                    done.countDown();
                  }
                };
            if (taskThreads == null) {
              guarded.run();
            } else {
              taskThreads.execute(guarded);
            }
          }

          private void on(ExecutorService thread, IoAction action) throws IOException {
            if (thread == null) {
              action.run();
              return;
            }
            thread.execute(
                () -> {
                  try {
                    action.run();
                  } catch (IOException e) {
                    failure.compareAndSet(null, e);
                    done.countDown();
                  }
                });
          }
        };
    Conditions.Meter meter = Conditions.start();
    CpuUse.Meter cpuMeter = CpuUse.start(brokerPid);
    long t0 = System.nanoTime();
    boolean complete;
    CpuUse use;
    try {
      String tag = ch.basicConsume(h.queue(), false, consumer);
      complete = done.await(timeoutSeconds, TimeUnit.SECONDS);
      use = cpuMeter.end();
      ch.basicCancel(tag);
    } finally {
      for (ExecutorService threads : new ExecutorService[] {taskThreads, eventThread}) {
        if (threads != null) {
          threads.shutdown();
          threads.awaitTermination(10, TimeUnit.SECONDS);
        }
      }
      ch.close();
      if (eventChannel != null) {
        eventChannel.close();
      }
    }
    CpuUse.PerTask cpu = use.perTask(n);
    Conditions c = meter.end();
    if (failure.get() != null) {
      throw new IOException(spec.label() + " failed", failure.get());
    }
    if (!complete) {
      throw new IllegalStateException(
          spec.label()
              + ": only "
              + acked.get()
              + " of "
              + n
              + " acked in "
              + timeoutSeconds
              + " s");
    }
    double s = (end[0] - t0) / 1e9;
    progress("%-14s %d acked in %.3f s: %.1f msg/s %s %s", spec.label(), n, s, n / s, c, cpu);
    return new Rounds.Measured(n / s, c, cpu);
  }

  /** Drains n tasks with one in-process worker, timed from the return of Worker.start. */
  Rounds.Measured inProcess(String label, WorkerConfig config, int n) throws Exception {
    return timed(
        label,
        n,
        () -> {
          Worker w = Worker.start(config);
          return w::close;
        });
  }

  /**
   * Drains n tasks with an in-process worker that sends no event per task ({@code --events none}),
   * timed as a bare consumer is, by what the consumer itself knows: from the return of {@code
   * Worker.start} to the first moment the worker holds no task (running or prefetched: its status,
   * read every millisecond) and the queue is empty (its depth, asked only then). Counted: the tasks
   * still queued when the start returned. Deliveries the broker has sent and the worker not yet
   * received are in neither, so the end may come before their handling: at most a prefetch of noop
   * tasks, against the drain's whole run.
   */
  Rounds.Measured inProcessSilent(String label, WorkerConfig config, int n) throws Exception {
    publishNoops(n);
    long t0 = System.nanoTime();
    Worker w = Worker.start(config);
    CpuUse use; // up to the drain's end: the worker's close is not part of it
    long ready;
    long queued;
    long end;
    Conditions c;
    try {
      queued = h.depth();
      ready = System.nanoTime();
      Conditions.Meter meter = Conditions.start();
      CpuUse.Meter cpuMeter = CpuUse.start(brokerPid);
      long deadline = ready + TimeUnit.SECONDS.toNanos(timeoutSeconds);
      while (!(w.status().tasks().isEmpty() && h.depth() == 0)) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              label
                  + ": "
                  + h.depth()
                  + " of "
                  + n
                  + " tasks still queued after "
                  + timeoutSeconds
                  + " s");
        }
        Harness.sleep(1);
      }
      end = System.nanoTime();
      use = cpuMeter.end();
      c = meter.end();
    } finally {
      w.close();
    }
    double s = (end - ready) / 1e9;
    double rate = queued / s;
    CpuUse.PerTask cpu = use.perTask(queued);
    progress(
        "%-14s %d tasks in %.3f s after start (start %.0f ms, %d taken during it; no events):"
            + " %.1f msg/s %s %s",
        label, queued, s, (ready - t0) / 1e6, n - queued, rate, c, cpu);
    return new Rounds.Measured(rate, c, cpu);
  }

  /**
   * Drains n tasks with {@code count} {@code bin/worker} processes, timed from the receipt of the
   * last one's {@code worker.started}.
   */
  Rounds.Measured processes(
      String label, WorkerLauncher launcher, int count, List<String> flags, int n)
      throws Exception {
    return timed(
        label,
        n,
        () -> {
          int before = workersStarted.get();
          List<WorkerLauncher.Running> started = new ArrayList<>();
          AutoCloseable stopAll =
              () -> {
                started.forEach(p -> p.process().destroy()); // SIGTERM to all, then reap each
                for (WorkerLauncher.Running p : started) {
                  p.stop();
                }
              };
          try {
            for (int i = 1; i <= count; i++) {
              List<String> args = new ArrayList<>(List.of("--name", label + "-" + i));
              args.addAll(flags);
              started.add(launcher.start(h, args.toArray(String[]::new)));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (workersStarted.get() < before + count) {
              for (WorkerLauncher.Running p : started) {
                if (!p.process().isAlive()) {
                  throw new IllegalStateException(
                      "worker process exited with "
                          + p.process().exitValue()
                          + ":\n"
                          + p.logTail());
                }
              }
              if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no worker.started from every process in 60 s");
              }
              Harness.sleep(1);
            }
            return stopAll;
          } catch (Exception | Error e) {
            stopAll.close();
            throw e;
          }
        });
  }

  /** Something that consumes once {@link Starter#start} returns, and stops on close. */
  @FunctionalInterface
  interface Starter {
    AutoCloseable start() throws Exception;
  }

  /**
   * The outcomes received between the return of {@code starter} and the last of the n tasks'
   * outcomes, per second; the tasks that ended while it was starting are left out of the count.
   */
  private Rounds.Measured timed(String label, int n, Starter starter) throws Exception {
    publishNoops(n);
    Drain d = new Drain(n);
    current = d;
    long t0 = System.nanoTime();
    AutoCloseable consumer = starter.start();
    long ready = System.nanoTime();
    Conditions.Meter meter = Conditions.start();
    CpuUse.Meter cpuMeter = CpuUse.start(brokerPid);
    int early = d.outcomes.get();
    boolean complete;
    CpuUse use; // up to the last outcome: the worker's close is not part of the drain
    try {
      complete = d.done.await(timeoutSeconds, TimeUnit.SECONDS);
      use = cpuMeter.end();
    } finally {
      consumer.close();
      current = null;
    }
    Conditions c = meter.end();
    if (!complete) {
      throw new IllegalStateException(
          label
              + ": only "
              + d.outcomes.get()
              + " of "
              + n
              + " outcomes in "
              + timeoutSeconds
              + " s");
    }
    if (d.notSucceeded.get() > 0) {
      progress("%s: %d tasks did not succeed", label, d.notSucceeded.get());
    }
    double s = (d.end - ready) / 1e9;
    double rate = (n - early) / s;
    CpuUse.PerTask cpu = use.perTask(n - early);
    progress(
        "%-14s %d outcomes in %.3f s after start (start %.0f ms, %d done during it; %d event"
            + " messages): %.1f msg/s %s %s",
        label, n - early, s, (ready - t0) / 1e6, early, d.messages.get(), rate, c, cpu);
    return new Rounds.Measured(rate, c, cpu);
  }

  @Override
  public void close() throws Exception {
    try (sub) {
      rawConnection.close(5000);
    }
  }

  /** A step of the bare consumer; it writes to a socket. */
  @FunctionalInterface
  private interface IoAction {
    void run() throws IOException;
  }

  /** An event body shaped and sized like a worker's for a noop task. */
  private static byte[] sampleEvent(String state, String extra) {
    return ("{\"task\":\""
            + Ids.newId()
            + "\",\"type\":\"noop\",\"state\":\""
            + state
            + "\",\"worker\":\"bench-raw-events\",\"attempt\":1,\"at\":\"2026-11-22T02:00:00.123456Z\""
            + extra
            + ",\"queue\":\"default\"}")
        .getBytes(StandardCharsets.UTF_8);
  }
}
