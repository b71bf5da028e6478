package dev.conveyor.worker.execution;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;

/**
 * One delivery this worker holds: until it is settled (acked, republished or dead-lettered) the
 * broker keeps the message for us and gives it back if we vanish.
 *
 * @param scope whether the broker still holds the delivery for us
 */
public record Lease(
    Channel channel,
    long deliveryTag,
    String queue,
    AMQP.BasicProperties props,
    byte[] body,
    LeaseScope scope) {

  /** Whether the broker has taken the delivery back: it must not be settled on its tag any more. */
  public boolean lost() {
    return scope.lost();
  }
}
