package dev.conveyor.protocol.broker;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Closing channels and connections at shutdown, when the broker may already be gone. */
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
