package dev.conveyor.protocol.broker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * Which refusals make a kept queue move to another name ({@link KeptQueueName}): only those another
 * name escapes, told by the method the broker names when it closes the channel.
 */
class BrokerErrorsTest {

  private static final int QUEUE = 50;
  private static final int DECLARE = 10;
  private static final int BIND = 20;

  @Test
  void aQueueWhoseNodeIsDownIsNotDeclarableUnderItsName() {
    assertThat(
            BrokerErrors.queueNotDeclarable(
                refused(
                    404,
                    "NOT_FOUND - home node 'rabbit@n1' of durable queue 'ns.commands.w1' in vhost"
                        + " '/' is down or inaccessible",
                    QUEUE,
                    DECLARE)))
        .isTrue();
  }

  @Test
  void aQueueDeclaredOtherwiseIsNotDeclarableUnderItsName() {
    assertThat(
            BrokerErrors.queueNotDeclarable(
                refused(
                    406,
                    "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'ns.commands.w1'"
                        + " in vhost '/': received 'true' but current is 'false'",
                    QUEUE,
                    DECLARE)))
        .isTrue();
  }

  @Test
  void aRefusalAnotherNameWouldMeetAsWellIsNoReasonToMove() {
    // A vhost's queue limit refuses every new name.
    assertThat(
            BrokerErrors.queueNotDeclarable(
                refused(
                    406,
                    "PRECONDITION_FAILED - cannot declare queue 'ns.commands.w1': queue limit in"
                        + " vhost 'v' (0) is reached",
                    QUEUE,
                    DECLARE)))
        .isFalse();
    // The control exchange missing: the binding, not the queue, was refused.
    assertThat(
            BrokerErrors.queueNotDeclarable(
                refused(404, "NOT_FOUND - no exchange 'ns.control' in vhost '/'", QUEUE, BIND)))
        .isFalse();
    assertThat(BrokerErrors.queueNotDeclarable(new IOException("connection reset"))).isFalse();
  }

  /** The exception amqp-client throws when the broker closes the channel over a method. */
  private static IOException refused(int code, String text, int classId, int methodId) {
    AMQP.Channel.Close close =
        new AMQP.Channel.Close.Builder()
            .replyCode(code)
            .replyText(text)
            .classId(classId)
            .methodId(methodId)
            .build();
    return new IOException(new ShutdownSignalException(false, false, close, null));
  }
}
