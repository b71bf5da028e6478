package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.KeptEventSubscription;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.PrivateBroker;
import dev.conveyor.testkit.PrivateBrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Someone deletes the queue the dashboard reads every event from ({@code rabbitmqctl delete_queue}
 * on its {@code amq.gen-*} queue; the management API refuses, as the dashboard's connection holds
 * it exclusively). The broker cancels the consumer, and the dashboard heard no event again until it
 * was restarted. On a node of its own, as only {@code rabbitmqctl} on the node can do it.
 */
@ExtendWith(PrivateBrokerExtension.class)
class BrokerLinkQueueDeletedIT {

  @Test
  void aLinkWhoseEventQueueIsDeletedSubscribesAgain(PrivateBroker node) throws Exception {
    TestBroker broker = node.testBroker();
    List<Event> heard = new CopyOnWriteArrayList<>();
    try (LogCapture log = LogCapture.of(KeptEventSubscription.class);
        BrokerLink link = BrokerLink.open(broker.settings(), heard::add, s -> {})) {
      String deleted = node.deleteTheServerNamedQueue();
      assertThat(node.ctl("list_queues", "-q", "name")).doesNotContain(deleted);
      String events = broker.names().eventsExchange();
      // Bound before it is consumed: a new queue with a consumer hears what is published next.
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  node.ctl("list_queues", "-q", "name", "consumers")
                      .lines()
                      .anyMatch(l -> l.startsWith("amq.gen-") && l.endsWith("\t1")));
      broker.publishEvent("task.running", "{\"task\":\"t1\",\"state\":\"running\"}");

      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !heard.isEmpty());
      assertThat(heard.getFirst())
          .isInstanceOfSatisfying(
              Event.Task.class, t -> assertThat(t.event().task()).isEqualTo("t1"));
      assertThat(log.warnings())
          .anyMatch(
              w ->
                  w.contains(
                      "lost the subscription to "
                          + events
                          + ": the broker cancelled its consumer (was its queue deleted?)"));
    }
  }
}
