package dev.conveyor.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerStatus;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumer of the workers' answers to status rounds (direct reply-to), for {@code control} and
 * the dashboard. Whatever an answer holds, it returns normally: amqp-client closes the channel of a
 * consumer that throws, and every later round would go unanswered.
 */
public final class StatusReplies {
  private static final Logger log = LoggerFactory.getLogger(StatusReplies.class);

  private StatusReplies() {}

  /**
   * @param round the request's id: answers to other rounds are passed over; null takes every answer
   * @param replies given each decoded answer, on the connection's consumer thread
   */
  public static DefaultConsumer consumer(Channel ch, String round, Consumer<WorkerStatus> replies) {
    return new DefaultConsumer(ch) {
      @Override
      public void handleDelivery(
          String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
        if (round != null && !round.equals(props.getCorrelationId())) {
          return;
        }
        WorkerStatus status;
        try {
          status = Wire.decode(body, WorkerStatus.class);
        } catch (MalformedMessageException e) {
          log.warn("ignoring an undecodable status reply: {}", e.getMessage());
          return;
        }
        try {
          replies.accept(status);
        } catch (RuntimeException e) {
          log.warn(
              "could not take the status reply of {}, skipped: {}", status.worker(), e.toString());
          log.debug("could not take {}", status, e);
        }
      }
    };
  }
}
