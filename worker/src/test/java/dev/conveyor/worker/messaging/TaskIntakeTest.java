package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.LeaseScope;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TaskIntakeTest {

  private static Lease with(Map<String, Object> headers) {
    return new Lease(
        null,
        1,
        "default",
        new AMQP.BasicProperties.Builder().headers(headers).build(),
        new byte[0],
        new LeaseScope());
  }

  @Test
  void attemptsCountRetriesAndDeliveriesLostWithTheirWorker() {
    assertThat(TaskIntake.attemptOf(with(null))).isEqualTo(1);
    assertThat(TaskIntake.attemptOf(with(Map.of(Headers.ATTEMPTS_USED, 2)))).isEqualTo(3);
    assertThat(TaskIntake.attemptOf(with(Map.of(Headers.DELIVERY_COUNT, 1L)))).isEqualTo(2);
    assertThat(
            TaskIntake.attemptOf(
                with(Map.of(Headers.ATTEMPTS_USED, 1, Headers.DELIVERY_COUNT, 2L))))
        .isEqualTo(4);
  }

  @Test
  void aCountHeaderThatIsNoWholeNumberIsRefusedNotReadAsZero() {
    assertThat(TaskIntake.badCountHeader(with(Map.of(Headers.ATTEMPTS_USED, "junk"))))
        .hasValueSatisfying(why -> assertThat(why).contains(Headers.ATTEMPTS_USED, "junk"));
    assertThat(TaskIntake.badCountHeader(with(Map.of(Headers.ATTEMPTS_USED, -1)))).isPresent();
    assertThat(TaskIntake.badCountHeader(with(Map.of(Headers.DELIVERY_COUNT, 1.5)))).isPresent();
    assertThat(
            TaskIntake.badCountHeader(
                with(Map.of(Headers.ATTEMPTS_USED, 2, Headers.DELIVERY_COUNT, 3L))))
        .isEmpty();
    assertThat(TaskIntake.badCountHeader(with(null))).isEmpty();
  }
}
