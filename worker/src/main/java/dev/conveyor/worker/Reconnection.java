package dev.conveyor.worker;

import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import dev.conveyor.worker.control.ControlListener;
import dev.conveyor.worker.messaging.Consumers;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a worker does once amqp-client has recovered its connection, in this order: it says it is
 * back, hears the commands published while it was away, and only then takes tasks again. So a
 * {@code pause} sent while it reconnected holds its intake back, and a {@code stop --all} from then
 * finds no task it took since (it stopped its tasks when the connection went).
 */
final class Reconnection implements RecoveryListener {
  private static final Logger log = LoggerFactory.getLogger(Reconnection.class);

  /** How long the worker waits to hear its queued commands before it takes tasks all the same. */
  static final Duration CATCH_UP = Duration.ofSeconds(2);

  private final Presence presence;
  private final ControlListener control;
  private final Consumers intake;

  Reconnection(Presence presence, ControlListener control, Consumers intake) {
    this.presence = presence;
    this.control = control;
    this.intake = intake;
  }

  @Override
  public void handleRecoveryStarted(Recoverable recoverable) {
    log.info("reconnecting to the broker");
  }

  /** On amqp-client's recovery thread, which nothing else waits for. */
  @Override
  public void handleRecovery(Recoverable recoverable) {
    try {
      presence.announceReconnected();
      if (!control.catchUp(CATCH_UP)) {
        log.warn(
            "reconnected, but could not hear within {} s the commands sent while this worker was"
                + " away; taking tasks all the same",
            CATCH_UP.toSeconds());
      }
      intake.consumeAgain();
      log.info("reconnected to the broker; {}", intake.paused() ? "paused" : "consuming again");
    } catch (RuntimeException e) {
      // Thrown out of here, it would end amqp-client's recovery for every listener after this one.
      log.error("could not resume after the reconnection", e);
    }
  }
}
