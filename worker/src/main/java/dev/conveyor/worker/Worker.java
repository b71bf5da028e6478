package dev.conveyor.worker;

import static java.util.stream.Collectors.toSet;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.events.KeptEventSubscription;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.worker.control.CommandHandler;
import dev.conveyor.worker.control.CommandVerifier;
import dev.conveyor.worker.control.ControlListener;
import dev.conveyor.worker.control.ControlLogReplay;
import dev.conveyor.worker.control.Pausable;
import dev.conveyor.worker.control.Revocations;
import dev.conveyor.worker.execution.AckWindow;
import dev.conveyor.worker.execution.EscalationLadder;
import dev.conveyor.worker.execution.RunningTasks;
import dev.conveyor.worker.execution.TaskRun;
import dev.conveyor.worker.execution.TaskRunner;
import dev.conveyor.worker.execution.TaskThreads;
import dev.conveyor.worker.execution.Watchdog;
import dev.conveyor.worker.handlers.HandlerRegistry;
import dev.conveyor.worker.isolation.ChildPool;
import dev.conveyor.worker.isolation.IsolatedHandler;
import dev.conveyor.worker.isolation.Isolation;
import dev.conveyor.worker.messaging.Consumers;
import dev.conveyor.worker.messaging.EventPublisher;
import dev.conveyor.worker.messaging.LeaseLoss;
import dev.conveyor.worker.messaging.LostLeases;
import dev.conveyor.worker.messaging.Settler;
import dev.conveyor.worker.messaging.TaskConsumer;
import dev.conveyor.worker.messaging.TaskIntake;
import dev.conveyor.worker.ops.MetricsServer;
import dev.conveyor.worker.ops.NameClaim;
import dev.conveyor.worker.ops.WorkerMetrics;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running worker: it owns its broker connection, its task threads and its watchdog thread, and
 * closes all of them. Start it with {@link #start}; {@link #close} is the graceful shutdown of
 * SIGTERM.
 */
public final class Worker implements AutoCloseable, Pausable {

  /** How long the broker keeps a worker's queue of requeued events after its connection went. */
  private static final Duration REQUEUED_KEPT_FOR = Duration.ofMinutes(1);

  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  private final WorkerConfig config;
  private final WorkerMetrics metrics;
  private final RunningTasks running;
  private final ScheduledExecutorService timer;
  private final ScheduledExecutorService io;
  private final TaskThreads threads;
  private final EscalationLadder ladder;
  private final Revocations revocations = new Revocations();
  private final LostLeases lostLeases = new LostLeases();
  private final Owned owned = new Owned();
  private final AtomicBoolean closing = new AtomicBoolean();
  private final AtomicBoolean terminating = new AtomicBoolean();
  private final CountDownLatch closed = new CountDownLatch(1);
  private volatile int exitCode = ExitCodes.OK;
  // Set once by open(), before any task or command arrives.
  private EventPublisher events;
  private TaskRunner runner;
  private Consumers intake;
  private Presence presence;
  private Shutdown shutdown;
  private MetricsServer metricsServer;

  private Worker(WorkerConfig config) {
    this.config = config;
    this.metrics = new WorkerMetrics(config.name());
    this.running = new RunningTasks(config.name());
    // The watchdog's thread only signals, interrupts and times: nothing on it waits for the broker,
    // so a deadline or a kill fires on time while the broker is slow, blocked or gone. Broker work
    // that is scheduled (heartbeats, reopening channels, held redeliveries) runs on the io thread.
    // Owned first, so closed last: what is closed before them may still hand them work.
    // The task threads also dispatch the connection's deliveries and commands: beyond the task
    // slots, one thread for each channel that consumes (the task queues', the control queue's, the
    // control log's, the word from other workers') and one for a channel being replaced.
    this.threads =
        owned(
            "task threads",
            new TaskThreads(config.concurrency(), config.queues().size() + 4, "conveyor-task"));
    this.timer = owned("watchdog", Watchdog.newTimer(named("conveyor-watchdog", false)));
    this.io = owned("io", Executors.newSingleThreadScheduledExecutor(named("conveyor-io", true)));
    this.ladder =
        new EscalationLadder(
            timer,
            config.killGrace(),
            this::stuck,
            (stage, ending) ->
                metrics.escalation(
                    stage.wire(), ending == null ? "unknown" : ending.cause().wire()),
            this::endedBeforeStart);
  }

  /** A prefetched task that a stop or kill ended: settled now, off the stopping thread. */
  private void endedBeforeStart(TaskRun run) {
    try {
      io.execute(() -> runner.settleUnstarted(run));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // Closing: its task thread, or the final hand-back, settles it.
    }
  }

  /**
   * Connects, declares what it uses, replays the control log and starts consuming. Returns once the
   * worker takes tasks.
   *
   * @throws BrokerUnreachableException the broker cannot be reached or refused us
   * @throws IllegalArgumentException a setting is unusable (a missing handlers directory, …)
   */
  public static Worker start(WorkerConfig config)
      throws BrokerUnreachableException, IOException, InterruptedException {
    Worker w = new Worker(config);
    try {
      w.open();
      return w;
    } catch (BrokerUnreachableException | IOException | InterruptedException | RuntimeException e) {
      w.release();
      throw e;
    }
  }

  private void open() throws BrokerUnreachableException, IOException, InterruptedException {
    // The JSON codec takes tens of milliseconds to build in a fresh JVM: built beside the start's
    // broker round trips rather than in the first event it writes (worker.started), and before
    // the first stop or kill.
    Thread.ofPlatform().name("conveyor-prepare").daemon().start(Wire::prepare);
    HandlerRegistry handlers =
        owned.add("handlers", HandlerRegistry.load(config.execPolicy(), config.handlersDir()));
    metrics.knownTypes(handlers.types());
    ChildPool children = null;
    HandlerRegistry runnable = handlers;
    if (config.isolation() == Isolation.PROCESS) {
      children =
          owned.add(
              "child JVMs",
              new ChildPool(
                  ChildPool.command(config.childHeap(), config.handlersDir()),
                  config.concurrency(),
                  config.maxTasksPerChild(),
                  config.childHeap().orElse(null)));
      children.start();
      ChildPool pool = children;
      // exec runs its program as a process tree of its own already: it stays in the worker.
      runnable =
          handlers.wrapping(h -> h.type().equals("exec") ? h : new IsolatedHandler(h.type(), pool));
      metrics.children(children);
    }
    if (config.metricsPort() >= 0) { // bound before connecting: a busy port takes no task
      metrics.bindJvm(); // only served, so only measured, here
      metricsServer =
          owned.add(
              "metrics server", MetricsServer.bind(config.metricsBind(), config.metricsPort()));
    }
    Optional<ControlSigner> signer = config.broker().controlKeyFile().map(ControlSigner::fromFile);
    warnAboutBrokerLease();
    Set<String> taskQueues =
        config.queues().stream().map(config.broker().names()::taskQueue).collect(toSet());
    Connection connection =
        new BrokerConnector(config.broker(), metrics.amqpCollector())
            .recoveringConsumersExcept(taskQueues::contains) // Reconnection consumes them again
            .connect("conveyor-worker " + config.name(), threads);
    owned.add("connection", () -> closeQuietly(connection));
    NameClaim.claim(connection, config.broker().names(), config.name());
    Topology topology = new Topology(config.broker().names());
    // Declared on a channel that lives as long as the connection: amqp-client's topology recovery
    // replays declarations on the channel that made them.
    Channel topologyChannel = connection.createChannel();
    owned.add("topology channel", () -> Channels.closeQuietly(topologyChannel));
    topology.declareCore(topologyChannel);
    for (String q : config.queues()) {
      topology.declareTaskQueue(topologyChannel, q);
      if (!config.retryDelay().isZero()) {
        topology.declareRetryQueue(topologyChannel, q);
      }
    }
    events =
        owned.add(
            "events",
            new EventPublisher(
                connection,
                topology,
                config.name(),
                config.events(),
                metrics::taskEvent,
                metrics::eventDropped));
    LeaseLoss leaseLoss =
        new LeaseLoss(config.name(), running, ladder, lostLeases, config.killGrace(), closing::get);
    // Before any task is consumed: a redelivery may need another worker's word (TaskIntake). A
    // queue that outlives the connection: when all workers lose theirs at once, the word of those
    // that reconnect first must wait for the others.
    owned.add(
        "requeued-elsewhere subscription",
        KeptEventSubscription.open(
            connection,
            topology,
            topology.names().requeuedFor(config.name()),
            REQUEUED_KEPT_FOR,
            List.of("task." + TaskState.REQUEUED.wire(), "worker." + WorkerEvent.RECONNECTED),
            leaseLoss::wordFromElsewhere,
            io));
    Settler settler =
        new Settler(
            connection, topology, events, running, config.retryDelay(), config.name(), lostLeases);
    owned.add("settler", settler::close);
    Watchdog watchdog = new Watchdog(timer, ladder, config.defaultTimeout(), config.defaultGrace());
    runner = new TaskRunner(threads.tasks(), watchdog, this::announceStart, settler::settle);
    // Built, not started, before the commands arrive: a pause meanwhile holds it back.
    intake = owned.add("intake", intake(connection, topology, runnable, settler, leaseLoss));
    presence = new Presence(config, connection, intake, running, events, closing::get);
    shutdown =
        new Shutdown(
            new Shutdown.Tasks(intake, running, ladder, runner, settler),
            presence::announce,
            config.shutdownGrace(),
            config.killGrace());
    CommandVerifier verifier = new CommandVerifier(signer);
    owned
        .add(
            "control log replay",
            new ControlLogReplay(
                connection,
                topology,
                revocations,
                verifier,
                metrics::controlRefused,
                ControlLogReplay.Periodic.of(io)))
        .startAndCatchUp(Duration.ofSeconds(10));
    CommandHandler commands =
        new CommandHandler(
            config.name(),
            running,
            ladder,
            revocations,
            verifier,
            this,
            presence::status,
            events,
            new CommandHandler.Observer() {
              @Override
              public void applied(String command) {
                metrics.controlCommand(command);
              }

              @Override
              public void refused(String reason) {
                metrics.controlRefused(reason);
              }
            });
    ControlListener control =
        owned.add(
            "control listener",
            new ControlListener(connection, topology, config.name(), commands, io));
    control.start();
    if (connection instanceof Recoverable r) { // before the intake starts: it takes tasks again
      r.addRecoveryListener(new Reconnection(presence, control, intake));
    }
    if (children != null) { // before the first task: a child that cannot start fails the start
      children.awaitReady(Duration.ofSeconds(60));
    }
    presence.announceStarted(topologyChannel);
    intake.start();
    metrics.runningGauge(running::size);
    if (metricsServer != null) {
      metricsServer.start(metrics::scrape, presence::ready, presence::health);
    }
    long hb = config.heartbeat().toMillis();
    io.scheduleAtFixedRate(presence::heartbeat, hb, hb, TimeUnit.MILLISECONDS);
    log.info(
        "worker {} consuming {} with concurrency {}{} on {} (types: {})",
        config.name(),
        config.queues(),
        config.concurrency(),
        children == null ? "" : " in child JVMs " + children.pids(),
        config.broker().describe(),
        handlers.types());
  }

  /** The consumers of the task queues, not started. */
  private Consumers intake(
      Connection connection,
      Topology topology,
      HandlerRegistry runnable,
      Settler settler,
      LeaseLoss leaseLoss) {
    TaskIntake accept =
        new TaskIntake(
            runnable,
            revocations,
            running,
            runner,
            settler,
            config.maxPayloadBytes(),
            config.consumerTimeout(),
            lostLeases,
            io);
    // Before the consumers' own listeners (TaskConsumer): the loss is noted before tasks stop.
    connection.addShutdownListener(leaseLoss::connectionLost);
    List<TaskConsumer> consumers = new ArrayList<>();
    for (String q : config.queues()) {
      consumers.add(
          new TaskConsumer(
              connection,
              topology,
              q,
              AckWindow.Gathering.of(config.concurrency(), config.effectivePrefetch(), io),
              accept::accept,
              leaseLoss::leasesLost,
              io));
    }
    return new Consumers(consumers);
  }

  public String name() {
    return config.name();
  }

  /** The port of {@code /metrics} and {@code /health}, or -1 when they are off. */
  public int metricsPort() {
    return metricsServer == null ? -1 : metricsServer.port();
  }

  /** Ready: connected, consuming (unless paused) and not shutting down. */
  public boolean ready() {
    return presence.ready();
  }

  public WorkerStatus status() {
    return presence.status();
  }

  @Override
  public void pause() {
    intake.pause();
  }

  @Override
  public void resume() {
    intake.resume();
  }

  @Override
  public boolean paused() {
    return intake.paused();
  }

  private void announceStart(TaskRun run) {
    events.running(run.task(), run.lease().queue(), run.attempt(), run.startedAt());
  }

  /**
   * A task survived its kill: settle everything, say so, and end the process with 70 so that the
   * supervisor starts a fresh worker (docs/design.md).
   */
  private void stuck(TaskRun run) {
    if (closing.get() || !terminating.compareAndSet(false, true)) {
      return;
    }
    Thread t = new Thread(() -> terminate(run), "conveyor-terminate");
    t.start();
  }

  private void terminate(TaskRun stuck) {
    log.error("terminating worker {}: task {} cannot be killed", config.name(), stuck);
    closing.set(true);
    shutdown.terminate(stuck);
    exitCode = ExitCodes.STUCK_TASK;
    release();
    config.exit().accept(ExitCodes.STUCK_TASK);
  }

  /** The second SIGTERM: do not wait for running tasks any longer. */
  public void skipGrace() {
    if (shutdown != null) { // null while the worker starts: its close finds no task to wait for
      shutdown.skipGrace();
    }
  }

  /**
   * Graceful shutdown ({@link Shutdown#graceful}): stop taking tasks, let running ones finish
   * within the shutdown grace, then stop, kill and requeue the rest (without using up their
   * attempts), close everything.
   */
  @Override
  public void close() {
    if (!closing.compareAndSet(false, true)) {
      awaitClosed();
      return;
    }
    try {
      shutdown.graceful();
    } finally {
      release();
    }
  }

  /** Waits until the worker has closed (after {@link #close} or a stuck-task termination). */
  public void awaitClosed() {
    try {
      closed.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  public int exitCode() {
    return exitCode;
  }

  private synchronized void release() {
    if (closed.getCount() == 0) {
      return;
    }
    boolean started = presence != null;
    owned.close();
    closed.countDown();
    if (started) {
      log.info("worker {} closed", config.name());
    }
  }

  private void warnAboutBrokerLease() {
    config
        .defaultTimeout()
        .filter(t -> t.plus(config.defaultGrace()).compareTo(config.consumerTimeout()) > 0)
        .ifPresent(
            t ->
                log.warn(
                    "default timeout {} plus grace exceeds the broker's consumer_timeout {}: the"
                        + " broker would take such tasks back first",
                    t,
                    config.consumerTimeout()));
  }

  /** Owns the executor: closing it interrupts what it runs and does not wait (unlike its close). */
  private <T extends ExecutorService> T owned(String what, T executor) {
    owned.add(what, executor::shutdownNow);
    return executor;
  }

  private static void closeQuietly(Connection connection) {
    try {
      connection.close(5000);
    } catch (IOException | RuntimeException e) {
      log.debug("closing connection", e); // closed already, or the broker is gone
    }
  }

  private static ThreadFactory named(String prefix, boolean daemon) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(daemon);
      return t;
    };
  }
}
