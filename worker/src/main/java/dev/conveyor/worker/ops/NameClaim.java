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
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's claim on its name: an exclusive queue {@code ns.worker.<name>} that the broker lets
 * only one connection hold, and deletes when that connection ends. A second worker with the same
 * name is refused at start ({@code RESOURCE_LOCKED}) instead of running beside the first, where
 * {@code control} could not tell them apart.
 *
 * <p>Not left to amqp-client's topology recovery: after a lost connection the worker claims the
 * name again itself, so that it can say clearly when another worker took the name meanwhile
 * (recovery would only log a failed declaration).
 */
public final class NameClaim {
  private static final Logger log = LoggerFactory.getLogger(NameClaim.class);

  /** AMQP's reply code for a queue another connection holds exclusively. */
  private static final int RESOURCE_LOCKED = 405;

  private final Connection connection;
  private final String queue;
  private final String worker;
  private final String namespace;

  private NameClaim(Connection connection, Names names, String worker) {
    this.connection = connection;
    this.queue = names.workerName(worker);
    this.worker = worker;
    this.namespace = names.namespace();
  }

  /**
   * Claims the name for as long as the connection lives, and again after each recovery.
   *
   * @throws UsageException (exit 2) when a worker of that name is connected to the namespace
   */
  public static void claim(Connection connection, Names names, String worker) throws IOException {
    NameClaim claim = new NameClaim(connection, names, worker);
    if (!claim.take()) {
      throw new UsageException(
          "a worker named "
              + worker
              + " is already connected to namespace "
              + claim.namespace
              + "; give this one another --name (`control status --worker "
              + worker
              + "` shows where it runs)");
    }
    if (connection instanceof Recoverable r) {
      r.addRecoveryListener(
          new RecoveryListener() {
            @Override
            public void handleRecovery(Recoverable recoverable) {
              claim.retake();
            }

            @Override
            public void handleRecoveryStarted(Recoverable recoverable) {}
          });
    }
  }

  private void retake() {
    try {
      if (!take()) {
        log.error(
            "another worker named {} connected to namespace {} while this one was reconnecting:"
                + " two workers now answer to that name; stop one of them",
            worker,
            namespace);
      }
    } catch (IOException | RuntimeException e) {
      log.warn(
          "could not claim the name {} again after reconnecting: {}",
          worker,
          BrokerErrors.reason(e));
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
