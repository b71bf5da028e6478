package dev.conveyor.producer;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Java API: confirms, returns, nacks and ordering against a real broker. */
@ExtendWith(BrokerExtension.class)
class TaskPublisherIT {

  private static List<GetResponse> drain(TestBroker broker, String queueName) {
    return broker.withChannel(
        ch -> {
          List<GetResponse> out = new ArrayList<>();
          for (GetResponse r = ch.basicGet(queueName, true);
              r != null;
              r = ch.basicGet(queueName, true)) {
            out.add(r);
          }
          return out;
        });
  }

  @Test
  void publishReturnsTheTaskAsSentOnceConfirmed(TestBroker broker) throws Exception {
    TaskMessage sent;
    try (TaskPublisher publisher = TaskPublisher.open(broker.settings())) {
      sent = publisher.publish(TaskSpec.of("sleep").payload(Map.of("seconds", 1)).build());
    }
    String queue = broker.names().taskQueue("default");
    assertEquals(1, broker.messageCount(queue));
    GetResponse got = drain(broker, queue).getFirst();
    assertEquals(sent.id(), got.getProps().getMessageId());
    assertEquals(sent, Wire.decodeTask(got.getBody(), null));
  }

  @Test
  void publishFillsTheIdOfABareTask(TestBroker broker) throws Exception {
    try (TaskPublisher publisher = TaskPublisher.open(broker.settings())) {
      TaskMessage sent =
          publisher.publish(new TaskMessage(null, "noop", null, null, null, null, null, null));
      assertEquals(36, sent.id().length());
      assertTrue(sent.createdAt() != null);
    }
  }

  @Test
  void publishAllSlidesItsWindowAndKeepsOrder(TestBroker broker) throws Exception {
    List<TaskMessage> tasks =
        IntStream.range(0, 50).mapToObj(i -> TaskSpec.of("noop").id("t" + i).build()).toList();
    List<List<TaskMessage>> batches = new ArrayList<>();
    try (TaskPublisher publisher = TaskPublisher.open(broker.settings()).window(7)) {
      publisher.publishAll("default", tasks, batches::add);
    }
    assertEquals(tasks, batches.stream().flatMap(List::stream).toList());
    assertTrue(batches.size() > 1, "confirmed prefixes are handed on while publishing");

    List<String> queued =
        drain(broker, broker.names().taskQueue("default")).stream()
            .map(g -> g.getProps().getMessageId())
            .toList();
    assertEquals(tasks.stream().map(TaskMessage::id).toList(), queued);
  }

  @Test
  void everyConfirmIsReportedHoweverTheAcksInterleave(TestBroker broker) throws Exception {
    // Regression: an ack landing between the last hand-on and the return used to go unreported.
    try (TaskPublisher publisher = TaskPublisher.open(broker.settings())) {
      for (int round = 0; round < 200; round++) {
        List<TaskMessage> tasks = List.of(TaskSpec.of("noop").build(), TaskSpec.of("noop").build());
        assertEquals(tasks, publisher.publishAll("default", tasks), "round " + round);
      }
    }
    assertEquals(400, broker.messageCount(broker.names().taskQueue("default")));
  }

  @Test
  void anUnroutableTaskIsAnExceptionAndThePublisherCarriesOn(TestBroker broker) throws Exception {
    broker.useQueue("other");
    try (TaskPublisher publisher = TaskPublisher.open(broker.settings())) {
      publisher.publish(TaskSpec.of("noop").build());
      // Someone deletes the queue behind the publisher's back: nothing is bound any more.
      broker.withChannel(ch -> ch.queueDelete(broker.names().taskQueue("default")));

      PublishException e =
          assertThrows(
              PublishException.class,
              () -> publisher.publish(TaskSpec.of("noop").id("lost-1").build()));
      assertEquals(List.of("lost-1"), List.copyOf(e.failed().keySet()));
      assertTrue(e.failed().get("lost-1").startsWith("unroutable: NO_ROUTE"), e.getMessage());
      assertEquals(0, e.confirmedCount());

      publisher.publish("other", TaskSpec.of("noop").build());
    }
    assertEquals(1, broker.messageCount(broker.names().taskQueue("other")));
  }

  @Test
  void aNackIsAnExceptionAndConfirmedTasksAreStillReported(TestBroker broker) throws Exception {
    try (TaskPublisher publisher = TaskPublisher.open(broker.settings()).window(3)) {
      publisher.publish(TaskSpec.of("noop").build());
      // A second queue on the routing key that refuses everything makes the broker nack.
      broker.withChannel(
          ch -> {
            String q =
                ch.queueDeclare(
                        "",
                        false,
                        true,
                        true,
                        Map.of("x-max-length", 0, "x-overflow", "reject-publish"))
                    .getQueue();
            ch.queueBind(q, broker.names().tasksExchange(), "default");
            return q;
          });
      List<TaskMessage> confirmed = new ArrayList<>();
      PublishException e =
          assertThrows(
              PublishException.class,
              () ->
                  publisher.publishAll(
                      "default",
                      List.of(TaskSpec.of("noop").id("n1").build(), TaskSpec.of("noop").build()),
                      confirmed::addAll));
      assertEquals("refused by the broker (nack)", e.failed().get("n1"), e.getMessage());
      assertEquals(List.of(), confirmed);
    }
  }

  @Test
  void anInvalidTaskStopsTheBatchAfterSettlingWhatWasSent(TestBroker broker) throws Exception {
    List<TaskMessage> confirmed = new ArrayList<>();
    try (TaskPublisher publisher = TaskPublisher.open(broker.settings())) {
      List<TaskMessage> tasks =
          List.of(
              TaskSpec.of("noop").id("ok1").build(),
              TaskSpec.of("noop").id("ok2").build(),
              new TaskMessage("bad", null, null, null, null, null, null, null),
              TaskSpec.of("noop").id("never").build());
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> publisher.publishAll("default", tasks, confirmed::addAll));
      assertEquals("task has no type", e.getMessage());
    }
    assertEquals(List.of("ok1", "ok2"), confirmed.stream().map(TaskMessage::id).toList());
    assertEquals(2, broker.messageCount(broker.names().taskQueue("default")));
  }

  @Test
  void aDeclarationErrorDoesNotBreakThePublisher(TestBroker broker) throws Exception {
    String legacy = broker.useQueue("legacy");
    broker.withChannel(ch -> ch.queueDeclare(legacy, true, false, false, Map.of()));
    try (TaskPublisher publisher = TaskPublisher.open(broker.settings())) {
      IOException e =
          assertThrows(
              IOException.class, () -> publisher.publish("legacy", TaskSpec.of("noop").build()));
      assertTrue(e.getMessage().contains("PRECONDITION_FAILED"), e.getMessage());
      publisher.publish(TaskSpec.of("noop").build());
    }
    assertEquals(1, broker.messageCount(broker.names().taskQueue("default")));
  }

  @Test
  void aSharedConnectionStaysOpen(TestBroker broker) throws Exception {
    Connection connection = broker.open("shared");
    try (TaskPublisher publisher = TaskPublisher.open(connection, broker.names())) {
      publisher.publish(TaskSpec.of("noop").build());
    }
    assertTrue(connection.isOpen());
    await().until(() -> broker.messageCount(broker.names().taskQueue("default")) == 1);
  }
}
