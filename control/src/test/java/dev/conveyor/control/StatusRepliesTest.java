package dev.conveyor.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.DefaultConsumer;
import dev.conveyor.protocol.wire.WorkerStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the consumer of status answers does with each answer, without a broker. */
class StatusRepliesTest {

  private static final String ANSWER =
      "{\"worker\":\"w1\",\"host\":\"h\",\"pid\":1,\"concurrency\":4,\"paused\":false}";

  private static void deliver(DefaultConsumer consumer, String correlationId, String body)
      throws IOException {
    consumer.handleDelivery(
        "tag",
        null,
        new AMQP.BasicProperties.Builder().correlationId(correlationId).build(),
        body.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void takesTheAnswersToItsRoundAndPassesOverTheRest() throws IOException {
    List<WorkerStatus> got = new ArrayList<>();
    DefaultConsumer consumer = StatusReplies.consumer(null, "r1", got::add);

    deliver(consumer, "r0", ANSWER);
    deliver(consumer, "r1", "null");
    deliver(consumer, "r1", "{oops");
    deliver(consumer, "r1", ANSWER);

    assertThat(got).extracting(WorkerStatus::worker).containsExactly("w1");
  }

  /**
   * A failure of whoever takes the answers (the dashboard's picture of its workers, on an answer it
   * did not expect) stays with that answer: thrown out of the consumer, it made amqp-client close
   * the channel, and no later round was answered.
   */
  @Test
  void aFailureOfWhoTakesTheAnswersStaysWithThatAnswer() throws IOException {
    List<WorkerStatus> got = new ArrayList<>();
    DefaultConsumer consumer =
        StatusReplies.consumer(
            null,
            null,
            s -> {
              got.add(s);
              if (got.size() == 1) {
                throw new IllegalStateException("the taker's bug");
              }
            });

    assertThatCode(() -> deliver(consumer, null, ANSWER)).doesNotThrowAnyException();
    deliver(consumer, null, ANSWER);

    assertThat(got).hasSize(2);
  }
}
