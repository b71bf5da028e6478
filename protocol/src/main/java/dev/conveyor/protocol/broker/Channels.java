package dev.conveyor.protocol.broker;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closing channels and connections at shutdown, when the broker may already be gone; forgetting
 * consumers the broker has ended.
 */
public final class Channels {
  private static final Logger log = LoggerFactory.getLogger(Channels.class);

  private Channels() {}

  /** Closes the channel if it is open; a channel or connection that is already gone is fine. */
  public static void closeQuietly(Channel channel) {
    if (channel == null || !channel.isOpen()) {
      return;
    }
    try {
      channel.close();
    } catch (IOException | TimeoutException | ShutdownSignalException e) {
      // ShutdownSignalException: closed meanwhile, by the broker or by the client (a consumer's
      // exception makes amqp-client close the channel)
      log.debug("closing channel {}", channel.getChannelNumber(), e);
    }
  }

  /**
   * Makes amqp-client forget a consumer that the broker has ended: it cancelled it (its queue went)
   * or closed its channel. amqp-client's recovery keeps every consumer the client has not cancelled
   * and consumes again with each at every recovery: beside its replacement, or on a dead channel
   * (an error logged each time). A cancel from the client forgets it, and then fails, as the broker
   * no longer knows the consumer, or the channel is closed. (Closing or aborting the channel would
   * also forget it, but amqp-client forgets a channel by its number, which a live one may have
   * taken over since.)
   */
  public static void forgetConsumer(Channel channel, String tag) {
    if (channel == null || tag == null) {
      return;
    }
    try {
      channel.basicCancel(tag);
    } catch (IOException | RuntimeException e) {
      log.debug("consumer {} that the broker ended forgotten: {}", tag, e.toString());
    }
  }

  /**
   * A new channel in place of {@code lost}, a channel the broker closed: on the lost one's number
   * when that is free. amqp-client keeps its channels by number for its recovery and forgets one
   * only when the program closes it, which goes by number too, and a live channel may have taken
   * the number since; left alone, the lost channel would be opened again, idle, at every later
   * recovery, one more on the broker for each closure. A channel made on its number replaces it;
   * when the number is taken, the channel that took it has replaced it already.
   *
   * @param lost the channel replaced; null, or one still open, for a channel of a number of its own
   */
  public static Channel replacing(Connection connection, Channel lost) throws IOException {
    if (lost != null && !lost.isOpen()) {
      Channel same = connection.createChannel(lost.getChannelNumber());
      if (same != null) {
        return same;
      }
    }
    return connection.createChannel();
  }

  /**
   * Closes {@code ch} if it is open; one the broker closed, which nothing replaces, is made
   * forgotten by amqp-client, whose recovery would otherwise open it again, idle, at every later
   * reconnection: a channel opened on its number takes its place in amqp-client's table and is
   * closed at once. When the number is taken, the channel that took it has replaced it already.
   * (Aborting the closed channel would unregister it by its number too, and so whichever live
   * channel has that number by then.)
   */
  public static void closeOrForget(Connection connection, Channel ch) {
    if (ch == null) {
      return;
    }
    if (ch.isOpen()) {
      closeQuietly(ch);
      return;
    }
    if (!connection.isOpen()) {
      return; // the recovery that comes opens it again, and the next closure forgets it
    }
    try {
      closeQuietly(connection.createChannel(ch.getChannelNumber()));
    } catch (IOException | RuntimeException e) {
      log.debug("channel {} the broker closed not forgotten: {}", ch.getChannelNumber(), e);
    }
  }

  /** Closes the connection if it is open, waiting a little for the broker's acknowledgement. */
  public static void closeQuietly(Connection connection) {
    if (connection == null || !connection.isOpen()) {
      return;
    }
    try {
      connection.close(2000);
    } catch (IOException | ShutdownSignalException e) {
      log.debug("closing connection", e);
    }
  }
}
