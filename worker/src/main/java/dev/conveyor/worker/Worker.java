package dev.conveyor.worker;

import static java.util.stream.Collectors.toSet;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.ShutdownSignalException;
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

  /**
   * How long a start whose connection was lost waits before it begins again, and between its tries
   * to connect: amqp-client's recovery interval ({@link BrokerConnector}).
   */
  private static final Duration START_AGAIN_AFTER = Duration.ofSeconds(1);

  /** How long the broker keeps a worker's queue of requeued events after its connection went. */
  private static final Duration REQUEUED_KEPT_FOR = Duration.ofMinutes(1);

  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  private final WorkerConfig config;
  private final StartProbe probe;
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
  private final StartLoss startLoss = new StartLoss();
  // Set at the end of a start that succeeded.
  private volatile boolean started;
  // Set once by open(), before any task or command arrives.
  private EventPublisher events;
  private TaskRunner runner;
  private Consumers intake;
  private Presence presence;
  private Shutdown shutdown;
  private MetricsServer metricsServer;

  private Worker(WorkerConfig config, StartProbe probe) {
    this.config = config;
    this.probe = probe;
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

  /** A step of the start, where a {@link StartProbe} is told it has come to. */
  enum StartStep {
    /** The commands' listener is about to start. */
    CONTROL,
    /** The worker is about to say it started and take tasks. */
    INTAKE
  }

  /** Told where a start has come to: a test holds a start there. */
  @FunctionalInterface
  interface StartProbe {
    StartProbe NONE = step -> {};

    void reached(StartStep step) throws InterruptedException;
  }

  /**
   * Connects, declares what it uses, replays the control log and starts consuming. Returns once the
   * worker takes tasks. A start whose connection is lost midway begins again ({@link #start(
   * WorkerConfig, CountDownLatch, StartProbe)}).
   *
   * @throws BrokerUnreachableException the broker cannot be reached or refused us
   * @throws IllegalArgumentException a setting is unusable (a missing handlers directory, …)
   */
  public static Worker start(WorkerConfig config)
      throws BrokerUnreachableException, IOException, InterruptedException {
    return start(config, new CountDownLatch(1), StartProbe.NONE).orElseThrow();
  }

  /**
   * Starts a worker. When the connection is lost in the middle of the start (the broker closed it,
   * as it does when it fails a request on a queue that is still starting, or the network went),
   * what the start made is closed and the start begins again after {@link #START_AGAIN_AFTER},
   * waiting for the broker as long as it takes, as a running worker waits for its connection to
   * come back. Only the first connection's failure is final (exit 3): that broker was never there.
   *
   * @param stop counted down to give up a start that waits for the broker (SIGTERM)
   * @return empty if stopped while waiting for the broker
   */
  static Optional<Worker> start(WorkerConfig config, CountDownLatch stop, StartProbe probe)
      throws BrokerUnreachableException, IOException, InterruptedException {
    for (boolean again = false; ; again = true) {
      Worker w = new Worker(config, probe);
      try {
        w.open(again ? stop : null);
        return Optional.of(w);
      } catch (StoppedWhileStarting e) {
        w.release();
        return Optional.empty();
      } catch (BrokerUnreachableException
          | IOException
          | InterruptedException
          | RuntimeException e) {
        ShutdownSignalException lost = w.startLoss.of(e);
        if (lost != null && w.events != null) {
          // The release closes its connection: what it queued would wait for it in vain.
          w.events.abandon();
        }
        w.release();
        if (lost == null || e instanceof InterruptedException) {
          throw e;
        }
        log.warn(
            "lost the broker connection while starting ({}); starting again in {} ms",
            LeaseLoss.why(lost),
            START_AGAIN_AFTER.toMillis());
        if (stop.await(START_AGAIN_AFTER.toMillis(), TimeUnit.MILLISECONDS)) {
          return Optional.empty();
        }
      }
    }
  }

  /** Thrown out of a start that waited for the broker when the worker was told to stop. */
  private static final class StoppedWhileStarting extends Exception {
    StoppedWhileStarting() {
      super(null, null, false, false);
    }
  }

  /**
   * @param waitForBroker null on a first start, which fails if the broker cannot be reached; else
   *     the connection is tried again until the broker lets it in, or this is counted down
   */
  private void open(CountDownLatch waitForBroker)
      throws BrokerUnreachableException, IOException, InterruptedException, StoppedWhileStarting {
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
    Connection connection = connect(taskQueues, waitForBroker);
    owned.add("connection", () -> closeQuietly(connection));
    startLoss.connected(connection);
    // A start that begins again may find its name held by the connection it lost, which the broker
    // keeps until it sees that connection end.
    NameClaim claim =
        waitForBroker == null
            ? NameClaim.claim(connection, config.broker().names(), config.name(), io)
            : NameClaim.claimAfterLoss(
                connection,
                config.broker().names(),
                config.name(),
                io,
                NameClaim.HELD_BY_A_LOST_CONNECTION_AT_MOST,
                waitForBroker);
    if (claim == null) {
      throw new StoppedWhileStarting();
    }
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
    KeptEventSubscription wordFromElsewhere =
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
    owned
        .add(
            "control log replay",
            new ControlLogReplay(
                connection,
                topology,
                revocations,
                verifier,
                metrics::controlRefused,
                ControlLogReplay.Periodic.of(io),
                commands::handleLogged))
        .startAndCatchUp(Duration.ofSeconds(10));
    ControlListener control =
        owned.add(
            "control listener",
            new ControlListener(connection, topology, config.name(), commands, io));
    probe.reached(StartStep.CONTROL);
    control.start();
    claim.onHeldElsewhere(
        () -> {
          control.consumeAlone();
          wordFromElsewhere.consumeAlone();
        });
    if (connection instanceof Recoverable r) { // before the intake starts: it takes tasks again
      r.addRecoveryListener(new Reconnection(presence, control, intake));
    }
    if (children != null) { // before the first task: a child that cannot start fails the start
      children.awaitReady(Duration.ofSeconds(60));
    }
    probe.reached(StartStep.INTAKE);
    presence.announceStarted(topologyChannel);
    intake.start();
    metrics.runningGauge(running::size);
    if (metricsServer != null) {
      metricsServer.start(metrics::scrape, presence::ready, presence::health);
    }
    long hb = config.heartbeat().toMillis();
    io.scheduleAtFixedRate(presence::heartbeat, hb, hb, TimeUnit.MILLISECONDS);
    started = true;
    log.info(
        "worker {} consuming {} with concurrency {}{} on {} (types: {})",
        config.name(),
        config.queues(),
        config.concurrency(),
        children == null ? "" : " in child JVMs " + children.pids(),
        config.broker().describe(),
        handlers.types());
  }

  /**
   * A connection to the broker whose consumers of the task queues amqp-client does not recover (the
   * worker consumes them again itself, {@link Reconnection}).
   */
  private Connection connect(Set<String> taskQueues, CountDownLatch waitForBroker)
      throws BrokerUnreachableException, InterruptedException, StoppedWhileStarting {
    BrokerConnector connector =
        new BrokerConnector(config.broker(), metrics.amqpCollector())
            .recoveringConsumersExcept(taskQueues::contains);
    String name = "conveyor-worker " + config.name();
    if (waitForBroker == null) {
      return connector.connect(name, threads);
    }
    for (boolean told = false; ; told = true) {
      try {
        return connector.connect(name, threads);
      } catch (BrokerUnreachableException e) {
        if (!told) {
          log.warn(
              "waiting for the broker: {}; trying again every {} ms",
              e.getMessage(),
              START_AGAIN_AFTER.toMillis());
        }
        if (waitForBroker.await(START_AGAIN_AFTER.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new StoppedWhileStarting();
        }
      }
    }
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
