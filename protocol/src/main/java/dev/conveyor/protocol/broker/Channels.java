package dev.conveyor.protocol.broker;

import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.Channel;
import java.io.IOException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Closing channels at shutdown, when the connection may already be gone. */
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
    } catch (IOException | TimeoutException | AlreadyClosedException e) {
      log.debug("closing channel {}", channel.getChannelNumber(), e);
    }
  }
}
