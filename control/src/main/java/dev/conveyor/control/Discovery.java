package dev.conveyor.control;

import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.wire.Target;
import java.io.IOException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The status round that finds the live workers, run on a thread of its own beside a command that is
 * already published: it tells the command whom to wait for, never when to start. Closing it ends
 * the round early with whoever had answered.
 */
final class Discovery implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Discovery.class);

  private final ControlSession session;
  private final Target whom;
  private final Duration timeout;
  private final CommandTracker tracker;
  private final ControlSession.RefusalFeed refusals;
  private Thread thread;
  private volatile StatusRound.Result result = StatusRound.Result.NOBODY;

  /**
   * @param refusals where the round hears workers refuse its request: the command's own
   *     subscription, which is bound to refusals already
   */
  Discovery(
      ControlSession session,
      Target whom,
      Duration timeout,
      CommandTracker tracker,
      ControlSession.RefusalFeed refusals) {
    this.session = session;
    this.whom = whom;
    this.timeout = timeout;
    this.tracker = tracker;
    this.refusals = refusals;
  }

  /** Starts the round; called once, right after the command went out. */
  synchronized void start() {
    thread = Thread.ofPlatform().name("conveyor-discovery").daemon().start(this::round);
  }

  private void round() {
    try {
      result = session.status(whom, timeout, ControlSession.QUIET, refusals);
    } catch (IOException | RuntimeException e) {
      // The command went out all the same: its acknowledgements are still reported.
      log.warn("could not look for live workers: {}", BrokerErrors.reason(e));
    } finally {
      tracker.discovered(result.answered());
    }
  }

  /** Waits for the round to end by itself (it lasts at most its timeout). */
  StatusRound.Result finish() throws InterruptedException {
    Thread t;
    synchronized (this) {
      t = thread;
    }
    if (t != null) {
      t.join();
    }
    return result;
  }

  /** Ends the round now: what had been found so far is the result. */
  @Override
  public void close() {
    Thread t;
    synchronized (this) {
      t = thread;
    }
    if (t == null) {
      return;
    }
    t.interrupt();
    boolean interrupted = false;
    while (t.isAlive()) {
      try {
        t.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
