package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.topology.Permissions;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Events published while the broker is unreachable wait for amqp-client's recovery, in order, for
 * up to the outage wait (30 s in a worker); after that they are dropped and counted, and the
 * publisher goes on once the broker is back. The outage is made by deleting the publisher's user
 * and closing its connection, so that recovery fails until the user is created again.
 */
@ExtendWith(BrokerExtension.class)
class EventPublisherIT {

  @Test
  void eventsOutlastAShortOutageAndAreDroppedAfterALongOne(TestBroker broker) throws Exception {
    OwnUser own = OwnUser.connect(broker, "events-outage");
    Connection connection = own.connection();
    EventLog log = EventLog.open(broker);
    AtomicInteger dropped = new AtomicInteger();
    // Two publishers on the one connection: one waits out any outage this test makes, the other
    // gives up after 300 ms.
    EventPublisher patient =
        broker.own(
            new EventPublisher(
                connection,
                broker.topology(),
                "patient",
                EventLevel.ALL,
                e -> {},
                dropped::incrementAndGet,
                Duration.ofSeconds(60),
                EventPublisher.Gathering.REAL));
    EventPublisher hasty =
        broker.own(
            new EventPublisher(
                connection,
                broker.topology(),
                "hasty",
                EventLevel.ALL,
                e -> {},
                dropped::incrementAndGet,
                Duration.ofMillis(300),
                EventPublisher.Gathering.REAL));

    publish(patient, "before");
    awaitReceived(log, "before");

    own.cutOff();
    publish(patient, "kept");
    own.restore();
    awaitReceived(log, "kept");

    own.cutOff();
    publish(hasty, "lost");
    await().atMost(Duration.ofSeconds(10)).until(() -> dropped.get() == 1);
    own.restore();
    await().atMost(Duration.ofSeconds(10)).until(connection::isOpen);
    publish(hasty, "after");
    awaitReceived(log, "after");

    // Published in order on one channel: had "lost" gone out, it would have arrived before "after".
    assertThat(received(log)).containsExactly("before", "kept", "after");
    assertThat(dropped).hasValue(1);
  }

  /**
   * Events that queue up while the events thread cannot send (here: the connection is down) go out
   * as one array per routing key, and every reader decodes them as the events they were, each
   * task's in order.
   */
  /**
   * {@code worker.started} must be out before the worker's first task, which may end the process:
   * it is written on the caller's channel, not queued; only a channel that cannot take it queues
   * it.
   */
  @Test
  void aWorkerEventWrittenAtOnceGoesOnTheGivenChannelOrElseIsQueued(TestBroker broker)
      throws Exception {
    EventLog log = EventLog.open(broker);
    EventPublisher closed =
        new EventPublisher(
            broker.connection(), broker.topology(), "w1", EventLevel.ALL, e -> {}, () -> {});
    closed.close(); // whatever it queued now would be dropped
    com.rabbitmq.client.Channel open = broker.connection().createChannel();
    closed.workerNow(open, started("w1"));
    open.close();

    EventPublisher events =
        broker.own(
            new EventPublisher(
                broker.connection(), broker.topology(), "w2", EventLevel.ALL, e -> {}, () -> {}));
    com.rabbitmq.client.Channel gone = broker.connection().createChannel();
    gone.close();
    events.workerNow(gone, started("w2"));

    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                log.workers().stream()
                    .filter(e -> e.state().equals(WorkerEvent.STARTED))
                    .map(WorkerEvent::worker)
                    .toList()
                    .containsAll(List.of("w1", "w2")));
  }

  private static WorkerEvent started(String worker) {
    return new WorkerEvent(worker, WorkerEvent.STARTED, Instant.now(), List.of(), "h", 1L);
  }

  @Test
  void queuedEventsGoOutAsFewMessagesAndReadersSeeEachEvent(TestBroker broker) throws Exception {
    OwnUser own = OwnUser.connect(broker, "events-batch");
    Connection connection = own.connection();
    EventLog log = EventLog.open(broker);
    AtomicInteger messages = taskEventMessages(broker);
    EventPublisher events =
        broker.own(
            new EventPublisher(
                connection, broker.topology(), "w", EventLevel.ALL, e -> {}, () -> {}));

    own.cutOff();
    int tasks = 600;
    for (int i = 0; i < tasks; i += 2) {
      // Two threads' worth of tasks: each one's running, then its succeeded, interleaved.
      events.task(task("t" + i), "default", 1, TaskState.RUNNING, null, null, null, null, null);
      events.task(
          task("t" + (i + 1)), "default", 1, TaskState.RUNNING, null, null, null, null, null);
      events.task(task("t" + i), "default", 1, TaskState.SUCCEEDED, 0L, null, null, null, null);
      events.task(
          task("t" + (i + 1)), "default", 1, TaskState.SUCCEEDED, 0L, null, null, null, null);
    }
    own.restore();

    await().atMost(Duration.ofSeconds(30)).until(() -> log.tasks().size() == 2 * tasks);
    for (int i = 0; i < tasks; i++) {
      assertThat(log.states("t" + i)).containsExactly(TaskState.RUNNING, TaskState.SUCCEEDED);
    }
    // 1 200 events in a handful of messages, not one each: at most 500 per message and key (4),
    // plus
    // one or two per take of the events thread made before everything had queued behind the cut
    // (the first event may go alone; on a busy machine a take or two more come before the cut is
    // felt).
    assertThat(messages.get()).isBetween(4, 12);
  }

  /**
   * An idle events thread sends at once; a busy one (it sent less than the gathering window ago)
   * waits out the window and sends what gathered meanwhile as one message per routing key. The
   * clock is the test's, and the pause is held open until the test has queued the rest.
   */
  @Test
  void aBusyPublisherLetsEventsGatherAndAnIdleOneSendsAtOnce(TestBroker broker) throws Exception {
    EventLog log = EventLog.open(broker);
    AtomicInteger messages = taskEventMessages(broker);
    long window = Duration.ofMillis(2).toNanos();
    AtomicLong now = new AtomicLong();
    List<Long> pausedUntil = new CopyOnWriteArrayList<>();
    CountDownLatch gathering = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    EventPublisher events =
        gathering(
            broker,
            new EventPublisher.Gathering(
                Duration.ofNanos(window),
                now::get,
                (until, woken) -> {
                  pausedUntil.add(until);
                  gathering.countDown();
                  release.await();
                }));

    running(events, "a"); // nothing was sent before
    await().atMost(Duration.ofSeconds(10)).until(() -> log.tasks().size() == 1);
    now.addAndGet(window); // a whole window since that send: idle
    running(events, "b");
    await().atMost(Duration.ofSeconds(10)).until(() -> log.tasks().size() == 2);
    assertThat(pausedUntil).as("an idle publisher does not wait").isEmpty();

    running(events, "c"); // the clock stands still: b was sent just now
    assertThat(gathering.await(10, TimeUnit.SECONDS)).as("a busy publisher waits").isTrue();
    assertThat(pausedUntil).containsExactly(2 * window);
    for (String t : List.of("d", "e", "f")) {
      running(events, t);
    }
    for (String t : List.of("c", "d", "e", "f")) {
      events.task(task(t), "default", 1, TaskState.SUCCEEDED, 0L, null, null, null, null);
    }
    release.countDown();

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> log.tasks().size() == 10 && messages.get() >= 4);
    assertThat(messages).as("a, b, then c to f as one message per routing key").hasValue(4);
    for (String t : List.of("c", "d", "e", "f")) {
      assertThat(log.states(t)).containsExactly(TaskState.RUNNING, TaskState.SUCCEEDED);
    }
  }

  @Test
  void aCancellationIsSentAtOnceEvenByABusyPublisherAndEndsAGatheringPause(TestBroker broker)
      throws Exception {
    EventLog log = EventLog.open(broker);
    long window = Duration.ofMillis(2).toNanos();
    AtomicLong now = new AtomicLong(); // stands still: after the first send, always busy
    List<Long> pausedUntil = new CopyOnWriteArrayList<>();
    CountDownLatch gathering = new CountDownLatch(1);
    AtomicBoolean endedByWake = new AtomicBoolean();
    CountDownLatch release = new CountDownLatch(1);
    EventPublisher events =
        gathering(
            broker,
            new EventPublisher.Gathering(
                Duration.ofNanos(window),
                now::get,
                (until, woken) -> {
                  pausedUntil.add(until);
                  gathering.countDown();
                  // Held until woken; only the test's release ends it otherwise.
                  await()
                      .atMost(Duration.ofSeconds(30))
                      .until(() -> woken.getAsBoolean() || release.getCount() == 0);
                  endedByWake.set(release.getCount() != 0);
                }));
    try {
      running(events, "a"); // idle: sent at once
      await().atMost(Duration.ofSeconds(10)).until(() -> log.tasks().size() == 1);

      running(events, "b"); // busy: b waits for the window
      assertThat(gathering.await(10, TimeUnit.SECONDS)).as("a busy publisher waits").isTrue();
      cancelled(events, "c");
      await().atMost(Duration.ofSeconds(10)).until(() -> log.tasks().size() == 3);
      assertThat(endedByWake).as("the cancellation ended the pause").isTrue();
      assertThat(log.states("c")).containsExactly(TaskState.CANCELLED);

      cancelled(events, "d"); // busy, but a cancellation first in line does not wait
      await().atMost(Duration.ofSeconds(10)).until(() -> log.tasks().size() == 4);
      assertThat(pausedUntil).as("only b's send waited").hasSize(1);
    } finally {
      release.countDown();
    }
  }

  @Test
  void aCommandAnswerIsSentAtOnceByABusyPublisher(TestBroker broker) throws Exception {
    EventLog log = EventLog.open(broker);
    List<Long> pausedUntil = new CopyOnWriteArrayList<>();
    CountDownLatch release = new CountDownLatch(1);
    EventPublisher events =
        gathering(
            broker,
            new EventPublisher.Gathering(
                Duration.ofMillis(2),
                () -> 0L, // stands still: after the first send, always busy
                (until, woken) -> {
                  pausedUntil.add(until);
                  release.await();
                }));
    try {
      running(events, "a"); // idle: sent at once
      await().atMost(Duration.ofSeconds(10)).until(() -> log.tasks().size() == 1);
      events.applied(
          new CommandApplied(
              "cmd-1",
              Command.STOP,
              "w",
              List.of("a"),
              List.of(),
              List.of(),
              false,
              Instant.now(),
              "test"));
      await().atMost(Duration.ofSeconds(10)).until(() -> !log.applied("cmd-1").isEmpty());
      assertThat(pausedUntil).as("the answer did not wait").isEmpty();
    } finally {
      release.countDown();
    }
  }

  /** A publisher of worker {@code w}, every event level, that gathers as the test says. */
  private static EventPublisher gathering(TestBroker broker, EventPublisher.Gathering gathering)
      throws Exception {
    return broker.own(
        new EventPublisher(
            broker.connection(),
            broker.topology(),
            "w",
            EventLevel.ALL,
            e -> {},
            () -> {},
            EventPublisher.OUTAGE_WAIT,
            gathering));
  }

  private static void cancelled(EventPublisher events, String task) {
    events.task(
        task(task), "default", 1, TaskState.CANCELLED, 1L, Cause.USER_KILL, null, "test", null);
  }

  /** Counts the AMQP messages that carry task events, however many events each holds. */
  private static AtomicInteger taskEventMessages(TestBroker broker) throws Exception {
    AtomicInteger messages = new AtomicInteger();
    broker.own(
        EventSubscription.openRaw(
            broker.connection(),
            broker.topology(),
            List.of("task.*"),
            (key, body) -> messages.incrementAndGet()));
    return messages;
  }

  private static void running(EventPublisher events, String task) {
    events.task(task(task), "default", 1, TaskState.RUNNING, null, null, null, null, null);
  }

  /** {@code --events none}: no task event but the word other workers count attempts by. */
  @Test
  void levelNoneSendsOnlyTheRequeuedOfALostConnection(TestBroker broker) throws Exception {
    EventLog log = EventLog.open(broker);
    AtomicInteger observed = new AtomicInteger();
    EventPublisher events =
        broker.own(
            new EventPublisher(
                broker.connection(),
                broker.topology(),
                "quiet",
                EventLevel.NONE,
                e -> observed.incrementAndGet(),
                () -> {}));

    events.task(task("a"), "default", 1, TaskState.RUNNING, null, null, null, null, null);
    events.task(task("a"), "default", 1, TaskState.SUCCEEDED, 1L, null, null, null, null);
    events.task(
        task("b"), "default", 1, TaskState.REQUEUED, null, Cause.SHUTDOWN, null, null, null);
    events.task(
        task("c"), "default", 1, TaskState.REQUEUED, null, Cause.CONNECTION_LOST, null, null, null);
    publish(events, "last");

    awaitReceived(log, "last");
    assertThat(log.tasks()).extracting(TaskEvent::task).containsExactly("c");
    assertThat(observed).as("metrics see every event").hasValue(4);
  }

  private static TaskMessage task(String id) {
    return new TaskMessage(id, "noop", null, null, null, null, null, null);
  }

  /**
   * A user of the test's own and a connection of that user, named after it, which the test can cut
   * off: deleting the user closes the connection (or the test does), and amqp-client's recovery
   * fails until the user is back.
   */
  private record OwnUser(
      BrokerAdmin admin, String user, Permissions permissions, Connection connection) {

    static OwnUser connect(TestBroker broker, String name) throws Exception {
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      String user = name + "-" + broker.namespace();
      Permissions permissions = Permissions.worker(broker.names());
      Connection connection = broker.openAs(user, "pw", permissions);
      return new OwnUser(admin, user, permissions, connection);
    }

    void cutOff() {
      admin.deleteUser(user);
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                if (connection.isOpen()) {
                  admin.closeConnections(user); // the connection's name
                }
                return !connection.isOpen();
              });
    }

    void restore() {
      admin.createUser(user, "pw", permissions);
    }
  }

  /** A heartbeat whose only task id marks it. */
  private static void publish(EventPublisher events, String marker) {
    events.worker(WorkerEvent.HEARTBEAT, List.of(marker), "host", 1);
  }

  private static void awaitReceived(EventLog log, String marker) {
    await().atMost(Duration.ofSeconds(30)).until(() -> received(log).contains(marker));
  }

  private static List<String> received(EventLog log) {
    return log.workers().stream()
        .filter(e -> WorkerEvent.HEARTBEAT.equals(e.state()))
        .flatMap(e -> e.tasks().stream())
        .toList();
  }
}
