package dev.conveyor.worker.control;

import dev.conveyor.protocol.broker.BrokerErrors;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;

/**
 * The broker's refusals of one thing a worker does again until the broker lets it (listen to
 * commands, be counted), however many tries that takes: the first refusal of a streak is logged, as
 * a warning, and the streak's end; the tries between them are not. Guarded by its owner's lock.
 */
final class RefusalStreak {
  private final Logger log;
  private final UnaryOperator<String> refusal;
  private final String recovery;
  private boolean on;

  /**
   * @param refusal the warning, from the broker's reason
   * @param recovery logged when a streak ends; null: the owner says it itself
   */
  RefusalStreak(Logger log, UnaryOperator<String> refusal, String recovery) {
    this.log = log;
    this.refusal = refusal;
    this.recovery = recovery;
  }

  /** Whether the last try was refused. */
  boolean on() {
    return on;
  }

  /** A try was refused: logged if it begins a streak. */
  void refused(Exception e) {
    if (!on) {
      on = true;
      log.warn("{}", refusal.apply(BrokerErrors.reason(e)));
    }
  }

  /** A try succeeded: ends the streak, if there was one. */
  void ended() {
    if (on) {
      on = false;
      if (recovery != null) {
        log.info("{}", recovery);
      }
    }
  }
}
