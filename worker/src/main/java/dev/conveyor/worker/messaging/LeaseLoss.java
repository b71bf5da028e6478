package dev.conveyor.worker.messaging;

import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.worker.execution.Ending;
import dev.conveyor.worker.execution.EscalationLadder;
import dev.conveyor.worker.execution.LeaseScope;
import dev.conveyor.worker.execution.RunningTasks;
import dev.conveyor.worker.execution.TaskRun;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the worker does when the broker takes deliveries back: this worker's own (a lost connection
 * or channel: its tasks are stopped, and after a lost connection their redelivery is not counted as
 * an attempt) and other workers' (their word that a delivery was lost with their connection).
 */
public final class LeaseLoss {
  private static final Logger log = LoggerFactory.getLogger(LeaseLoss.class);

  private final String worker;
  private final RunningTasks running;
  private final EscalationLadder ladder;
  private final LostLeases lostLeases;
  private final Duration killGrace;
  private final BooleanSupplier closing;

  /**
   * @param killGrace how long a stopped task may take before it is killed
   * @param closing whether the worker is shutting down (its own closing of channels is no loss)
   */
  public LeaseLoss(
      String worker,
      RunningTasks running,
      EscalationLadder ladder,
      LostLeases lostLeases,
      Duration killGrace,
      BooleanSupplier closing) {
    this.worker = worker;
    this.running = running;
    this.ladder = ladder;
    this.lostLeases = lostLeases;
    this.killGrace = killGrace;
    this.closing = closing;
  }

  /** The connection went (amqp-client's recovery brings it back); the consumers end the leases. */
  public void connectionLost(ShutdownSignalException cause) {
    if (!cause.isInitiatedByApplication() && !closing.getAsBoolean()) {
      lostLeases.connectionLost();
      log.warn(
          "lost the broker connection ({}); stopping {} running task(s), the broker redelivers them",
          why(cause),
          running.size());
    }
  }

  /**
   * The broker's reason when it closed the connection, else what broke under it ("Connection
   * reset", a missed heartbeat): amqp-client's own message wraps the first in its protocol syntax
   * and names the second "connection error".
   */
  public static String why(ShutdownSignalException cause) {
    return BrokerErrors.refusal(cause)
        .orElseGet(
            () ->
                cause.getCause() != null && cause.getCause().getMessage() != null
                    ? cause.getCause().getMessage()
                    : cause.getMessage());
  }

  /**
   * The broker took back every delivery of a channel or connection that is gone: the tasks it had
   * given us are stopped. After a lost connection their next delivery is not counted as an attempt;
   * after a channel the broker closed it is, as a task that outlives the delivery timeout would
   * otherwise come back for ever.
   */
  public void leasesLost(LeaseScope scope) {
    if (closing.getAsBoolean()) {
      return;
    }
    for (TaskRun run : running.all()) {
      if (run.lease().scope() == scope) {
        if (scope.lostWithConnection()) {
          lostLeases.record(run.taskId(), run.lease());
        }
        ladder.stop(run, Ending.connectionLost(), killGrace);
      }
    }
  }

  /**
   * Another worker's word: it lost a task with its connection (that task's next delivery is not an
   * attempt), or it lost its connection and is back (a redelivery no worker saw may be one of its).
   */
  public void wordFromElsewhere(Event event) {
    switch (event) {
      case Event.Task t -> {
        if (t.event().cause() == Cause.CONNECTION_LOST && !worker.equals(t.event().worker())) {
          lostLeases.recordElsewhere(t.event().task());
        }
      }
      case Event.Worker w -> {
        if (WorkerEvent.RECONNECTED.equals(w.event().state())
            && !worker.equals(w.event().worker())) {
          lostLeases.connectionLost();
        }
      }
      case Event.Applied a -> {}
      case Event.Refused r -> {}
    }
  }
}
