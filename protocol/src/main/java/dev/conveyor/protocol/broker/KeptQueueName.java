package dev.conveyor.protocol.broker;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.impl.recovery.AutorecoveringConnection;
import java.io.IOException;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The name of a queue of one client's own that outlives the client's connection: a durable queue
 * the broker deletes once unused for a while ({@code x-expires}), as RabbitMQ advises in place of
 * the transient non-exclusive kind that 4.3 refuses. Such a queue lives on one node, and while that
 * node is down the broker refuses to declare it (404); an older client may also have declared it
 * otherwise (406). Either way, whatever waited there cannot be had, so the client moves to a new
 * name, {@code <name>.moved-<8 hex digits>}, which nothing else uses, and makes amqp-client forget
 * the old one, whose recovery would declare it again at every reconnection. The old queue goes once
 * unused for as long as it was kept.
 */
public final class KeptQueueName {
  private static final Logger log = LoggerFactory.getLogger(KeptQueueName.class);

  /** Declares and binds the queue under the name it is given, on the channel. */
  @FunctionalInterface
  public interface Declarer {
    /**
     * @param again as {@link KeptConsumer.Declaration#declare}
     * @return the queue to consume
     */
    String declare(Channel channel, boolean again, String name) throws IOException;
  }

  private final Connection connection;
  private final String first;
  private volatile String name;

  /**
   * @param connection whose recovery forgets a name moved from
   * @param name the queue's own name, e.g. {@code ns.commands.<worker>}
   */
  public KeptQueueName(Connection connection, String name) {
    this.connection = connection;
    this.first = name;
    this.name = name;
  }

  /** The name now: the queue's own, or the last it moved to. */
  public String name() {
    return name;
  }

  /**
   * A declaration for a {@link KeptConsumer} under this name, which moves to a new one when the
   * broker refuses to declare the queue under the present one ({@link
   * BrokerErrors#queueNotDeclarable}); the consumer then tries again at once.
   */
  public KeptConsumer.Declaration declaration(Declarer declarer) {
    return new KeptConsumer.Declaration() {
      @Override
      public String declare(Channel channel, boolean again) throws IOException {
        return declarer.declare(channel, again, name);
      }

      @Override
      public boolean movedOn(Throwable refusal) {
        return moveIf(refusal);
      }
    };
  }

  /**
   * Moves to a new name if {@code refusal} says the queue cannot be declared under the present one.
   *
   * @return whether it moved
   */
  boolean moveIf(Throwable refusal) {
    if (!BrokerErrors.queueNotDeclarable(refusal)) {
      return false;
    }
    String old = name;
    String moved = first + ".moved-" + UUID.randomUUID().toString().substring(0, 8);
    name = moved;
    if (connection instanceof AutorecoveringConnection recovering) {
      recovering.excludeQueueFromRecovery(old, false);
    }
    log.warn(
        "queue {} cannot be declared ({}); using {} instead, and what waited in {} is lost",
        old,
        BrokerErrors.reason(refusal),
        moved,
        old);
    return true;
  }
}
