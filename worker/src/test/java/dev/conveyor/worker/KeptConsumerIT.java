package dev.conveyor.worker;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.broker.KeptConsumer;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ManualScheduler;
import dev.conveyor.testkit.PrivateVhost;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A consumer made again whenever the broker ends it, on a real broker; its tries driven by a manual
 * scheduler, so that each runs when the test says.
 */
@ExtendWith(BrokerExtension.class)
class KeptConsumerIT {
  private static final Duration RETRY = Duration.ofSeconds(5);

  private final ManualScheduler reopener = new ManualScheduler();
  private final List<String> told = new CopyOnWriteArrayList<>();
  private final List<Boolean> declared = new CopyOnWriteArrayList<>();
  private final List<String> received = new CopyOnWriteArrayList<>();

  /**
   * A queue deleted under the consumer, and not declarable again for a while (the vhost's queue
   * limit): the loss is told once, the refusals once however many tries they take, the return once
   * with the count; nothing runs on the channel meanwhile, and each refused try's channel is
   * forgotten by amqp-client, whose recovery would otherwise open it again.
   */
  @Test
  void aConsumerWhoseQueueWentIsMadeAgainOnceTheBrokerLetsIt(TestBroker shared) throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri())) {
      TestBroker broker = vhost.testBroker();
      String queue = broker.namespace() + ".kept";
      Connection connection = broker.open("kept-" + broker.namespace());
      int channelsBefore = Recoveries.channelsToRecover(connection);
      KeptConsumer kept = start(connection, queue);
      assertThat(Recoveries.channelsToRecover(connection)).isEqualTo(channelsBefore + 1);
      publishAndAwait(broker, queue, "before");

      deleteAndRefuse(vhost, broker, queue);
      assertThat(kept.consuming()).isFalse();
      assertThat(kept.onChannel(ch -> ch.queueDeclarePassive(queue))).isFalse();
      reopener.advance(RETRY);
      reopener.advance(RETRY);
      assertThat(told)
          .hasSize(2)
          .satisfies(t -> assertThat(t.get(0)).startsWith("lost: the broker cancelled"))
          .satisfies(t -> assertThat(t.get(1)).startsWith("refused: ").contains("queue limit"));
      assertThat(Recoveries.channelsToRecover(connection)).isEqualTo(channelsBefore);

      vhost.limitQueues(-1);
      reopener.advance(RETRY);
      assertThat(told).hasSize(3).last().isEqualTo("back after 3 refusals");
      assertThat(declared).containsExactly(false, true, true, true, true);
      assertThat(kept.consuming()).isTrue();
      assertThat(Recoveries.channelsToRecover(connection)).isEqualTo(channelsBefore + 1);
      publishAndAwait(broker, queue, "after");

      kept.close(ch -> ch.queueDelete(queue));
      assertThat(kept.consuming()).isFalse();
      assertThat(broker.consumerCountOrMissing(queue)).isEqualTo(-1);
      // The queue's deletion cancelled the consumer too: nothing is made again once closed.
      reopener.advance(RETRY);
      assertThat(declared).hasSize(5);
      assertThat(told).hasSize(3);
      assertThat(Recoveries.channelsToRecover(connection)).isEqualTo(channelsBefore);
    }
  }

  /**
   * A channel the broker closes (here a call on it that the broker refuses) is replaced, and the
   * consumer made again on the new one; the closed channel is forgotten by amqp-client.
   */
  @Test
  void aChannelTheBrokerClosedIsReplaced(TestBroker broker) throws Exception {
    String queue = broker.namespace() + ".kept";
    broker.deleteAfterwards(queue);
    Connection connection = broker.open("kept-" + broker.namespace());
    int channelsBefore = Recoveries.channelsToRecover(connection);
    KeptConsumer kept = broker.own(start(connection, queue));

    try {
      kept.onChannel(ch -> ch.queueDeclarePassive(broker.namespace() + ".missing"));
    } catch (java.io.IOException expected) {
      // 404: the broker closes the channel
    }
    Awaitility.await("the closure handed to the reopener")
        .atMost(Duration.ofSeconds(10))
        .until(() -> reopener.pending() == 1);
    reopener.runDue();
    assertThat(told)
        .hasSize(2)
        .satisfies(t -> assertThat(t.get(0)).startsWith("lost: the broker closed its channel"))
        .satisfies(t -> assertThat(t.get(1)).isEqualTo("back after 0 refusals"));
    assertThat(declared).containsExactly(false, true);
    assertThat(Recoveries.channelsToRecover(connection)).isEqualTo(channelsBefore + 1);
    publishAndAwait(broker, queue, "after");
  }

  /**
   * A call that waits for the consumer to be made again gives up when its time is out, without
   * running, while the broker still refuses the queue; and one still waiting is let go at once when
   * the consumer is closed, rather than holding a closing worker for the rest of its time.
   */
  @Test
  void aCallWaitingForTheConsumerGivesUpInTimeOrWhenClosed(TestBroker shared) throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri())) {
      TestBroker broker = vhost.testBroker();
      String queue = broker.namespace() + ".kept";
      Connection connection = broker.open("kept-" + broker.namespace());
      KeptConsumer kept = start(connection, queue);
      deleteAndRefuse(vhost, broker, queue); // the next try is RETRY away, run by the test alone
      List<String> ran = new CopyOnWriteArrayList<>();

      long before = System.nanoTime();
      CompletableFuture<Boolean> timed =
          waitToRun(kept, Duration.ofMillis(300), () -> ran.add("first"));
      assertThat(timed.get(10, TimeUnit.SECONDS)).isFalse();
      long waitedMs = Duration.ofNanos(System.nanoTime() - before).toMillis();
      assertThat(ran).isEmpty();
      assertThat(waitedMs).isGreaterThanOrEqualTo(300L);

      CompletableFuture<Boolean> waiting =
          waitToRun(kept, Duration.ofMinutes(5), () -> ran.add("second"));
      Awaitility.await("the second call waiting")
          .atMost(Duration.ofSeconds(10))
          .until(() -> Thread.getAllStackTraces().keySet().stream().anyMatch(t -> waitsIn(t)));
      kept.close();

      assertThat(waiting.get(10, TimeUnit.SECONDS)).isFalse();
      assertThat(ran).isEmpty();
    }
  }

  /**
   * Deletes the consumer's queue with the vhost's queue limit at 0, and runs the reopener's first
   * try, which the broker refuses.
   */
  private void deleteAndRefuse(PrivateVhost vhost, TestBroker broker, String queue) {
    vhost.limitQueues(0);
    broker.withChannel(ch -> ch.queueDelete(queue));
    Awaitility.await("the cancel handed to the reopener")
        .atMost(Duration.ofSeconds(10))
        .until(() -> reopener.pending() == 1);
    reopener.runDue();
  }

  /** {@link KeptConsumer#onChannelOnceConsuming} on another thread, so that a hang fails. */
  private static CompletableFuture<Boolean> waitToRun(
      KeptConsumer kept, Duration timeout, Runnable call) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return kept.onChannelOnceConsuming(timeout, ch -> call.run());
          } catch (Exception e) {
            throw new CompletionException(e);
          }
        });
  }

  /** Whether {@code t} is waiting inside {@link KeptConsumer#onChannelOnceConsuming}. */
  private static boolean waitsIn(Thread t) {
    return t.getState() == Thread.State.TIMED_WAITING
        && java.util.Arrays.stream(t.getStackTrace())
            .anyMatch(f -> f.getMethodName().equals("onChannelOnceConsuming"));
  }

  private KeptConsumer start(Connection connection, String queue) throws Exception {
    return KeptConsumer.start(
        connection,
        (ch, again) -> {
          declared.add(again);
          return ch.queueDeclare(queue, true, false, false, null).getQueue();
        },
        (envelope, props, body) -> received.add(new String(body, UTF_8)),
        reopener,
        RETRY,
        new KeptConsumer.Notices() {
          @Override
          public void lost(String why) {
            told.add("lost: " + why);
          }

          @Override
          public void refused(String reason) {
            told.add("refused: " + reason);
          }

          @Override
          public void back(int refusals) {
            told.add("back after " + refusals + " refusals");
          }
        });
  }

  private void publishAndAwait(TestBroker broker, String queue, String body) {
    broker.withChannel(
        ch -> {
          ch.basicPublish("", queue, null, body.getBytes(UTF_8));
          return null;
        });
    Awaitility.await("received " + body)
        .atMost(Duration.ofSeconds(10))
        .until(() -> received.contains(body));
  }
}
