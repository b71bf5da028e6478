package dev.conveyor.worker.ops;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import com.rabbitmq.client.ShutdownSignalException;
import com.rabbitmq.client.impl.recovery.AutorecoveringConnection;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Names;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's claim on its name: an exclusive queue {@code ns.worker.<name>} that the broker lets
 * only one connection hold, and deletes when that connection ends. A second worker with the same
 * name is refused at start ({@code RESOURCE_LOCKED}) instead of running beside the first, where
 * {@code control} could not tell them apart.
 *
 * <p>Once a worker has held its name, a refusal is not proof of a namesake: the broker keeps a
 * connection it has lost, and its claim, until it sees that connection end (a network loss the
 * worker noticed first), which takes it a few heartbeats. So a worker that claims its name again
 * after losing its connection (a start that begins again, a reconnection) tries again every {@link
 * #CLAIM_AGAIN_EVERY} for up to {@link #HELD_BY_A_LOST_CONNECTION_AT_MOST} before it takes the
 * holder for a namesake.
 *
 * <p>Not left to amqp-client's topology recovery: after a lost connection the worker claims the
 * name again itself, so that it can say clearly when another worker took the name meanwhile
 * (recovery would only log a failed declaration).
 */
public final class NameClaim {
  private static final Logger log = LoggerFactory.getLogger(NameClaim.class);

  /**
   * Longer than the broker takes to close a connection whose peer went: two missed heartbeats of
   * {@code BrokerConnector}'s 10 s, with room for a broker under load.
   */
  public static final Duration HELD_BY_A_LOST_CONNECTION_AT_MOST = Duration.ofSeconds(60);

  /** How often a name another connection holds is claimed again, as a lost connection is tried. */
  public static final Duration CLAIM_AGAIN_EVERY = Duration.ofSeconds(1);

  /** AMQP's reply code for a queue another connection holds exclusively. */
  private static final int RESOURCE_LOCKED = 405;

  private final Connection connection;
  private final String queue;
  private final String worker;
  private final String namespace;
  private final ScheduledExecutorService retries;
  private final Duration heldAtMost;
  // Counts the reconnections: a round of claims that a later one began gives up.
  private final AtomicInteger recoveries = new AtomicInteger();
  private volatile Runnable heldElsewhereAction = () -> {};

  private NameClaim(
      Connection connection,
      Names names,
      String worker,
      ScheduledExecutorService retries,
      Duration heldAtMost) {
    this.connection = connection;
    this.queue = names.workerName(worker);
    this.worker = worker;
    this.namespace = names.namespace();
    this.retries = retries;
    this.heldAtMost = heldAtMost;
  }

  /**
   * A first start's claim, for as long as the connection lives, and again after each recovery
   * (tried again on {@code retries} while another connection holds it).
   *
   * @throws UsageException (exit 2) when a worker of that name is connected to the namespace
   */
  public static NameClaim claim(
      Connection connection, Names names, String worker, ScheduledExecutorService retries)
      throws IOException {
    return claim(connection, names, worker, retries, HELD_BY_A_LOST_CONNECTION_AT_MOST);
  }

  /** As {@link #claim(Connection, Names, String, ScheduledExecutorService)}; tests shorten it. */
  public static NameClaim claim(
      Connection connection,
      Names names,
      String worker,
      ScheduledExecutorService retries,
      Duration heldAtMost)
      throws IOException {
    NameClaim claim = new NameClaim(connection, names, worker, retries, heldAtMost);
    if (!claim.take()) {
      throw claim.namesake();
    }
    claim.keepAfterRecoveries();
    return claim;
  }

  /**
   * The claim of a start that begins again after losing its connection: while another connection
   * holds the name, tried again every {@link #CLAIM_AGAIN_EVERY}, for up to {@code heldAtMost}.
   *
   * @param stop counted down to give up (SIGTERM)
   * @return the claim; null if stopped before the name was claimed
   * @throws UsageException (exit 2) when the name is still held after {@code heldAtMost}
   */
  public static NameClaim claimAfterLoss(
      Connection connection,
      Names names,
      String worker,
      ScheduledExecutorService retries,
      Duration heldAtMost,
      CountDownLatch stop)
      throws IOException, InterruptedException {
    NameClaim claim = new NameClaim(connection, names, worker, retries, heldAtMost);
    long giveUpAt = System.nanoTime() + heldAtMost.toNanos();
    for (boolean told = false; !claim.take(); told = true) {
      if (System.nanoTime() - giveUpAt >= 0) {
        throw claim.namesake();
      }
      if (!told) {
        log.warn(
            "{}; trying again every {} ms", claim.heldElsewhere(), CLAIM_AGAIN_EVERY.toMillis());
      }
      if (stop.await(CLAIM_AGAIN_EVERY.toMillis(), TimeUnit.MILLISECONDS)) {
        return null;
      }
    }
    claim.keepAfterRecoveries();
    return claim;
  }

  /**
   * What to do when, after a reconnection, another connection holds the name: most likely the lost
   * one, which the broker still delivers to (the worker's commands among them) until it sees it
   * end. Run once per reconnection, on amqp-client's recovery thread.
   */
  public void onHeldElsewhere(Runnable action) {
    heldElsewhereAction = action;
  }

  private UsageException namesake() {
    return new UsageException(
        "a worker named "
            + worker
            + " is already connected to namespace "
            + namespace
            + "; give this one another --name (`control status --worker "
            + worker
            + "` shows where it runs)");
  }

  private String heldElsewhere() {
    return "another connection holds the name "
        + worker
        + " in namespace "
        + namespace
        + ": this worker's lost one, until the broker sees that it ended, or a worker of that name";
  }

  private void keepAfterRecoveries() {
    if (connection instanceof Recoverable r) {
      r.addRecoveryListener(
          new RecoveryListener() {
            @Override
            public void handleRecovery(Recoverable recoverable) {
              retake(recoveries.incrementAndGet(), System.nanoTime() + heldAtMost.toNanos(), 0);
            }

            @Override
            public void handleRecoveryStarted(Recoverable recoverable) {}
          });
    }
  }

  /** Claims the name after a reconnection, and again later while another connection holds it. */
  private void retake(int recovery, long giveUpAt, int attempt) {
    if (recovery != recoveries.get() || !connection.isOpen()) {
      return; // the connection went again: its recovery claims the name anew
    }
    try {
      if (take()) {
        if (attempt > 0) {
          log.info("claimed the name {} in namespace {} again", worker, namespace);
        }
        return;
      }
    } catch (IOException | RuntimeException e) {
      log.warn(
          "could not claim the name {} again after reconnecting: {}",
          worker,
          BrokerErrors.reason(e));
      return;
    }
    if (System.nanoTime() - giveUpAt >= 0) {
      log.error(
          "another worker named {} connected to namespace {} while this one was reconnecting:"
              + " two workers now answer to that name; stop one of them",
          worker,
          namespace);
      return;
    }
    if (attempt == 0) {
      log.warn(
          "after reconnecting: {}; trying again every {} ms",
          heldElsewhere(),
          CLAIM_AGAIN_EVERY.toMillis());
      heldElsewhereAction.run();
    }
    try {
      retries.schedule(
          () -> retake(recovery, giveUpAt, attempt + 1),
          CLAIM_AGAIN_EVERY.toMillis(),
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // The worker is closing.
    }
  }

  /**
   * Declares the exclusive queue on a channel of its own (a refusal closes the channel).
   *
   * @return false if another connection holds it
   */
  private boolean take() throws IOException {
    Channel channel = connection.createChannel();
    try {
      channel.queueDeclare(queue, false, true, true, Map.of());
      if (connection instanceof AutorecoveringConnection recovering) {
        recovering.excludeQueueFromRecovery(queue, false);
      }
      return true;
    } catch (IOException e) {
      if (lockedByAnother(e)) {
        return false;
      }
      throw e;
    } finally {
      // Closing the channel keeps the queue: an exclusive queue lives as long as its connection.
      // The broker closed it if it refused the claim.
      Channels.closeOrForget(connection, channel);
    }
  }

  private static boolean lockedByAnother(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ShutdownSignalException s
          && s.getReason() instanceof AMQP.Channel.Close close
          && close.getReplyCode() == RESOURCE_LOCKED) {
        return true;
      }
    }
    return false;
  }
}
