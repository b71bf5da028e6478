package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.LeaseScope;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LostLeasesTest {

  private static Lease delivery(Integer attemptsUsed, Long deliveryCount) {
    Map<String, Object> headers = new HashMap<>();
    if (attemptsUsed != null) {
      headers.put(Headers.ATTEMPTS_USED, attemptsUsed);
    }
    if (deliveryCount != null) {
      headers.put(Headers.DELIVERY_COUNT, deliveryCount);
    }
    return new Lease(
        null,
        1,
        "default",
        new AMQP.BasicProperties.Builder().headers(headers).build(),
        new byte[0],
        new LeaseScope());
  }

  private final LostLeases lost = new LostLeases();

  private int forgiven(String taskId, Lease delivery) {
    return lost.forgiven(
        taskId, TaskIntake.attemptsUsed(delivery), TaskIntake.deliveryCount(delivery));
  }

  @Test
  void aDeliveryThisWorkerLostIsNotCountedWhenItComesBack() {
    lost.record("t", delivery(null, null));

    Lease back = delivery(null, 1L);
    assertThat(forgiven("t", back)).isEqualTo(1);
    assertThat(TaskIntake.attemptOf(back) - forgiven("t", back)).isEqualTo(1);
  }

  @Test
  void deliveriesLostElsewhereStillCount() {
    lost.record("t", delivery(null, null));

    // Lost once here, once with a worker that died: the second is an attempt.
    assertThat(forgiven("t", delivery(null, 2L))).isEqualTo(1);
    assertThat(forgiven("other", delivery(null, 1L))).isZero();
  }

  @Test
  void aRetrysCopyIsCountedAfresh() {
    lost.record("t", delivery(null, null));

    // The copy published for attempt 2 is a new message: its own deliveries start from zero.
    assertThat(forgiven("t", delivery(1, null))).isZero();
    assertThat(forgiven("t", delivery(1, 1L))).isZero();
    lost.record("t", delivery(1, null));
    assertThat(forgiven("t", delivery(1, 1L))).isEqualTo(1);
  }

  @Test
  void neverMoreThanTheBrokerCounted() {
    lost.record("t", delivery(null, null));
    lost.record("t", delivery(null, 1L));

    assertThat(forgiven("t", delivery(null, null))).isZero();
    assertThat(forgiven("t", delivery(null, 1L))).isEqualTo(1);
    assertThat(forgiven("t", delivery(null, 2L))).isEqualTo(2);
  }

  @Test
  void anotherWorkersLostDeliveryIsNotCountedEither() {
    lost.recordElsewhere("t");

    assertThat(forgiven("t", delivery(null, 1L))).isEqualTo(1);
    assertThat(forgiven("t", delivery(null, null))).isZero();
    lost.record("t", delivery(null, 1L));
    assertThat(forgiven("t", delivery(null, 2L))).isEqualTo(2);
  }

  private long now;
  private final LostLeases clocked = new LostLeases(() -> now);

  @Test
  void aDeliveryNoWorkerSawIsForgivenWhileAConnectionLossIsRecent() {
    clocked.connectionLost();

    // Unknown to every worker, but one connection was lost: one counted delivery is forgiven.
    assertThat(clocked.forgiven("unseen", 0, 1)).isEqualTo(1);
    assertThat(clocked.forgiven("unseen", 0, 2)).isEqualTo(1);
    now += LostLeases.LOSS_KEPT.toNanos() - 1;
    assertThat(clocked.forgiven("unseen", 0, 1)).isEqualTo(1);
    // A minute later it explains nothing: a delivery lost with a worker that died counts again.
    now += 2;
    assertThat(clocked.forgiven("unseen", 0, 1)).isZero();
  }

  @Test
  void aLossAndTheWordForTheSameTaskAreOneDeliveryNotTwo() {
    clocked.connectionLost();
    clocked.recordElsewhere("t");

    assertThat(clocked.forgiven("t", 0, 2)).isEqualTo(1);
    clocked.connectionLost();
    assertThat(clocked.forgiven("t", 0, 2)).isEqualTo(2);
    assertThat(clocked.forgiven("t", 0, 3)).isEqualTo(2);
  }

  @Test
  void aSettlementIsKnownOnceToTheRedeliveryOfItsOwnMessage() {
    clocked.settled("t", 0);
    clocked.settled("t", 0); // settled twice (a redelivery acked again): still known once

    assertThat(clocked.takeKnown("t", 1)).as("a retry's copy is another message").isEmpty();
    assertThat(clocked.takeKnown("other", 0)).isEmpty();
    assertThat(clocked.takeKnown("t", 0)).containsInstanceOf(LostLeases.Known.Settled.class);
    assertThat(clocked.takeKnown("t", 0)).as("a second redelivery runs").isEmpty();
  }

  @Test
  void aSettlementIsForgottenAfterFiveMinutesOrFourThousandLaterOnes() {
    clocked.settled("old", 0);
    now += java.util.concurrent.TimeUnit.MINUTES.toNanos(5);
    assertThat(clocked.takeKnown("old", 0)).isEmpty();

    clocked.settled("first", 0);
    for (int i = 0; i < 4095; i++) {
      clocked.settled("later-" + i, 0);
    }
    clocked.settled("last", 0);
    assertThat(clocked.takeKnown("first", 0)).isEmpty();
    assertThat(clocked.takeKnown("later-0", 0)).isPresent();
    assertThat(clocked.takeKnown("last", 0)).isPresent();
  }
}
