package dev.conveyor.producer;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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

  /** Every message id in a queue, consumed; for queues too long to empty with basicGet. */
  private static List<String> consumeIds(TestBroker broker, String queueName) {
    long count = broker.messageCount(queueName);
    List<String> ids = Collections.synchronizedList(new ArrayList<>());
    return broker.withChannel(
        ch -> {
          String tag =
              ch.basicConsume(
                  queueName, true, (t, d) -> ids.add(d.getProperties().getMessageId()), t -> {});
          await().atMost(Duration.ofSeconds(30)).until(() -> ids.size() >= count);
          ch.basicCancel(tag);
          synchronized (ids) {
            return List.copyOf(ids);
          }
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

  /**
   * The channel the broker closed for the declaration error is replaced on its number, so that
   * amqp-client's recovery does not open it again, idle, beside its replacement at every later
   * reconnection of a long-lived publisher.
   */
  @Test
  void theChannelADeclarationErrorClosedIsNotLeftForTheRecovery(TestBroker broker)
      throws Exception {
    String legacy = broker.useQueue("legacy");
    broker.withChannel(ch -> ch.queueDeclare(legacy, true, false, false, Map.of()));
    Connection connection = broker.open("declaring-" + broker.namespace());
    try (TaskPublisher publisher = TaskPublisher.open(connection, broker.names())) {
      publisher.publish(TaskSpec.of("noop").build());
      // Opened after the publisher's, as an application opens others: the number the broker
      // frees is then not the one amqp-client gives the next channel.
      connection.createChannel();
      int known = Recoveries.channelsToRecover(connection);
      assertThrows(
          IOException.class, () -> publisher.publish("legacy", TaskSpec.of("noop").build()));
      publisher.publish(TaskSpec.of("noop").build());

      assertEquals(known, Recoveries.channelsToRecover(connection));
    }
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

  @Test
  void aConnectionCutMidBatchLeavesEveryTaskConfirmedAndQueuedOrNamedAsFailed(TestBroker broker)
      throws Exception {
    int window = 50;
    // A name of this test's own, so that the cut cannot touch anyone else's connection.
    String connectionName = "conveyor-producer " + broker.namespace();
    Connection connection = broker.open(connectionName);
    CountDownLatch recovered = Recoveries.next(connection);
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    // Listed before the batch starts, so that the cut comes right after the first confirms: a few
    // thousand tasks, not the 100 000 that 5 s of publishing would leave for the broker to write.
    await().atMost(Duration.ofSeconds(20)).until(() -> admin.countConnections(connectionName) == 1);
    CountDownLatch firstConfirmed = new CountDownLatch(1);
    List<TaskMessage> confirmed = new ArrayList<>();
    try (ExecutorService cutter = Executors.newSingleThreadExecutor();
        TaskPublisher publisher =
            TaskPublisher.open(connection, broker.names())
                .window(window)
                .confirmTimeout(Duration.ofMinutes(1))) {
      // Once the first tasks are confirmed, the broker closes the connection from its side while
      // the publisher keeps its window in flight.
      CompletableFuture<Long> cut =
          CompletableFuture.supplyAsync(
              () -> {
                await().atMost(Duration.ofSeconds(20)).until(() -> firstConfirmed.getCount() == 0);
                admin.closeConnectionsOnceListed(connectionName, 1);
                return System.nanoTime();
              },
              cutter);
      // Tasks t0, t1, ... for as long as the connection is up, and 20 000 more once it is cut: the
      // batch cannot end before the cut however fast the broker, nor run on for ever after it.
      Iterable<TaskMessage> tasks =
          () ->
              new Iterator<>() {
                int next;
                int end = Integer.MAX_VALUE;

                @Override
                public boolean hasNext() {
                  if (cut.isCompletedExceptionally()) {
                    cut.join(); // the management API failed: say so
                  }
                  if (cut.isDone() && end == Integer.MAX_VALUE) {
                    end = next + 20_000;
                  }
                  return next < end;
                }

                @Override
                public TaskMessage next() {
                  return TaskSpec.of("noop").id("t" + next++).build();
                }
              };

      PublishException e =
          assertTimeoutPreemptively(
              Duration.ofSeconds(45),
              () ->
                  assertThrows(
                      PublishException.class,
                      () ->
                          publisher.publishAll(
                              "default",
                              tasks,
                              batch -> {
                                confirmed.addAll(batch);
                                firstConfirmed.countDown();
                              })));
      Duration cutToThrow = Duration.ofNanos(System.nanoTime() - cut.join());

      // The loss is noticed from the closed connection, not by waiting out the confirm timeout.
      assertTrue(cutToThrow.compareTo(Duration.ofSeconds(5)) < 0, "thrown " + cutToThrow);
      assertTrue(
          e.failed().values().stream().allMatch(r -> r.contains("CONNECTION_FORCED")),
          e.getMessage());

      // The caller is told about a prefix of the batch without a gap: the confirmed tasks in order,
      // then the ones that were not confirmed, at most a window of them; publishing stopped there.
      int k = confirmed.size();
      int f = e.failed().size();
      assertTrue(k > 0, "the cut came after the first confirms");
      assertTrue(f > 0 && f <= window, e.getMessage());
      assertEquals(k, e.confirmedCount());
      List<String> reported = new ArrayList<>(confirmed.stream().map(TaskMessage::id).toList());
      reported.addAll(e.failed().keySet());
      int gap =
          IntStream.range(0, reported.size())
              .filter(i -> !reported.get(i).equals("t" + i))
              .findFirst()
              .orElse(-1);
      assertEquals(
          -1,
          gap,
          () -> "at " + gap + ": " + reported.subList(Math.max(0, gap - 2), gap + 1) + " reported");

      // Automatic recovery reconnects, and the same publisher carries on.
      await().atMost(Duration.ofSeconds(30)).until(() -> recovered.getCount() == 0);
      publisher.publish(TaskSpec.of("noop").id("after").build());

      // Nothing reported as confirmed is lost, nothing is queued twice, and nothing the caller was
      // not told about went out. The tasks named as failed may or may not have been queued.
      List<String> queued = consumeIds(broker, broker.names().taskQueue("default"));
      assertEquals(queued.size(), new HashSet<>(queued).size(), "a task was queued twice");
      Set<String> missing = new HashSet<>(reported.subList(0, k));
      missing.add("after");
      queued.forEach(missing::remove);
      assertEquals(Set.of(), missing, "confirmed but not queued");
      Set<String> unreported = new HashSet<>(queued);
      reported.forEach(unreported::remove);
      assertEquals(Set.of("after"), unreported, "queued but not reported");
    }
  }
}
