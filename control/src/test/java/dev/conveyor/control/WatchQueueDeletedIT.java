package dev.conveyor.control;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.testkit.PrivateBroker;
import dev.conveyor.testkit.PrivateBrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Someone deletes the queue a watch reads ({@code rabbitmqctl delete_queue} on its {@code
 * amq.gen-*} queue: the management API refuses to, as the watch's connection holds it exclusively).
 * The broker cancels the watch's consumer and nothing else would subscribe it again: it went silent
 * for good. On a node of its own, as only {@code rabbitmqctl} on the node can do it.
 */
@ExtendWith(PrivateBrokerExtension.class)
class WatchQueueDeletedIT {

  @Test
  void aWatchWhoseQueueIsDeletedSaysSoSubscribesAgainAndGoesOn(PrivateBroker node)
      throws Exception {
    TestBroker broker = node.testBroker();
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          return null;
        });
    Control.Running running =
        new Control.Running(Control.withBroker(broker, "watch", "--count", "1"));
    CompletableFuture<Control.Result> watch = CompletableFuture.supplyAsync(running::run);
    await().atMost(Duration.ofSeconds(10)).until(() -> running.err.toString().contains("watching"));
    node.deleteTheServerNamedQueue();
    String events = broker.names().eventsExchange();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> running.err.toString().contains("subscribed to " + events + " again"));
    broker.publishEvent("task.running", "{\"task\":\"t1\",\"state\":\"running\"}");

    Control.Result r = watch.get(10, TimeUnit.SECONDS);
    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.out().contains("task.running t1"), r::toString);
    assertTrue(
        r.err()
            .contains(
                "watch: lost the subscription to "
                    + events
                    + ": the broker cancelled its consumer (was its queue deleted?); subscribing"
                    + " again"),
        r::toString);
    assertTrue(
        r.err().contains("watch: subscribed to " + events + " again; events published meanwhile"),
        r::toString);
  }
}
