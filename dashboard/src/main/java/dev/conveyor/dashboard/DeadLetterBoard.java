package dev.conveyor.dashboard;

import com.rabbitmq.client.Connection;
import dev.conveyor.control.dead.DeadLetter;
import dev.conveyor.control.dead.DeadLetters;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.topology.Topology;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dead-letter queue as the dashboard shows it, and the replays and purges its operators ask
 * for, done with control's {@link DeadLetters} (the code behind {@code control dead}). Everything
 * that touches the queue runs on one thread, so a listing never meets a replay halfway. The queue
 * is read again only when it may have changed: after a replay or purge, when a worker announces a
 * dead letter, and when the queue's count differs from the last listing (at most every {@link
 * #STALE_AFTER}) — never once per browser.
 */
final class DeadLetterBoard implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DeadLetterBoard.class);

  /** A count that differs from the listing triggers a new one when the listing is this old. */
  static final Duration STALE_AFTER = Duration.ofSeconds(5);

  /** How long a replay or purge may take before the request gives up waiting for it. */
  static final Duration OPERATION_TIMEOUT = Duration.ofSeconds(60);

  /** At most this many letters are sent to browsers; the count says how many there are. */
  static final int SHOWN = 200;

  /**
   * The letters as last read.
   *
   * @param letters null until the queue was read once
   * @param problem why the last read failed or could not put the letters back unchanged, or null
   */
  record Listing(List<DeadLetter> letters, String problem, Instant at) {
    static final Listing UNREAD = new Listing(null, null, null);

    int size() {
      return letters == null ? -1 : letters.size();
    }
  }

  /** What an operator's replay or purge did, as the page reports it. */
  sealed interface Outcome {
    String user();
  }

  record Replay(String user, DeadLetters.ReplayResult result) implements Outcome {}

  record Purge(String user, DeadLetters.PurgeResult result) implements Outcome {}

  private final Supplier<Connection> connection;
  private final Topology topology;
  private final Clock clock;
  private final ExecutorService thread =
      Executors.newSingleThreadExecutor(
          r -> Thread.ofPlatform().name("conveyor-dashboard-dead").daemon().unstarted(r));
  private final AtomicBoolean listPending = new AtomicBoolean();
  private volatile Listing listing = Listing.UNREAD;

  DeadLetterBoard(Supplier<Connection> connection, Topology topology, Clock clock) {
    this.connection = connection;
    this.topology = topology;
    this.clock = clock;
  }

  Listing listing() {
    return listing;
  }

  /** Reads the queue again soon, once however often asked meanwhile. */
  void refresh() {
    if (listPending.compareAndSet(false, true)) {
      try {
        thread.execute(
            () -> {
              listPending.set(false);
              list();
            });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        listPending.set(false); // closing
      }
    }
  }

  /**
   * Reads the queue again if {@code count} (ready plus unacknowledged, from the queue counts) says
   * the listing is out of date and it is older than {@link #STALE_AFTER}.
   */
  void refreshIfDifferent(Long count) {
    Listing l = listing;
    if (l.letters() == null
        || (count != null
            && count != l.size()
            && Duration.between(l.at(), clock.instant()).compareTo(STALE_AFTER) >= 0)) {
      refresh();
    }
  }

  /** Replays every letter, or the one with {@code id}, and reads the queue again. */
  Replay replay(String user, boolean all, String id) throws IOException {
    return run(
        () -> {
          DeadLetters.ReplayResult r =
              DeadLetters.replay(connection.get(), topology, all, ids(all, id));
          log.info(
              "{} replayed {}: {} sent back {}, {} skipped {}, not found {}",
              user,
              all ? "all dead letters" : "dead letter " + id,
              r.replayed().size(),
              r.replayed(),
              r.skipped().size(),
              r.skipped(),
              r.notFound());
          return new Replay(user, r);
        });
  }

  /** Purges every letter, or the one with {@code id}, and reads the queue again. */
  Purge purge(String user, boolean all, String id) throws IOException {
    return run(
        () -> {
          DeadLetters.PurgeResult r =
              DeadLetters.purge(connection.get(), topology.names(), all, ids(all, id));
          log.info(
              "{} purged {}: {} deleted, not found {}",
              user,
              all ? "all dead letters" : "dead letter " + id,
              r.purged(),
              r.notFound());
          return new Purge(user, r);
        });
  }

  private static Set<String> ids(boolean all, String id) {
    return all ? Set.of() : Set.of(id);
  }

  private <T extends Outcome> T run(Callable<T> operation) throws IOException {
    Future<T> f =
        thread.submit(
            () -> {
              try {
                return operation.call();
              } finally {
                list();
              }
            });
    try {
      return f.get(OPERATION_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw new IOException(BrokerErrors.reason(cause), cause);
    } catch (TimeoutException e) {
      throw new IOException(
          "the broker did not finish within " + OPERATION_TIMEOUT.toSeconds() + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** On the board's thread. */
  private void list() {
    try {
      DeadLetters.Listing l = DeadLetters.list(connection.get(), topology.names());
      if (l.problem() != null) {
        log.warn(
            "could not put the dead letters back unchanged after reading them ({}); the broker"
                + " counted the reading as a delivery",
            l.problem());
      }
      listing = new Listing(List.copyOf(l.letters()), l.problem(), clock.instant());
    } catch (IOException | RuntimeException e) {
      String why = BrokerErrors.reason(e);
      log.warn("cannot read the dead-letter queue {}: {}", topology.names().deadQueue(), why);
      Listing old = listing;
      listing = new Listing(old.letters(), why, clock.instant());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    thread.shutdownNow();
    try {
      thread.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
