package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.topology.Permissions;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.TestBroker;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Commands published while a worker reconnects wait in its queue of commands and are heard when it
 * is back, before it takes tasks again. Held open: the worker's user gets another password while
 * its connection is closed, so every reconnection is refused until the test gives it back.
 */
@ExtendWith(BrokerExtension.class)
class MissedCommandsIT {

  private static final String PASSWORD = "pw";

  @Test
  void pauseAndResumeSentWhileTheWorkerIsAwayAreHeardBeforeItTakesTasksAgain(TestBroker broker)
      throws Exception {
    EventLog events = broker.own(EventLog.open(broker));
    LogCapture reconnections = broker.own(LogCapture.of(Reconnection.class));
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    String name = "away-" + broker.namespace();
    Permissions permissions = Permissions.worker(broker.names());
    URI uri = admin.createUser(name, PASSWORD, permissions);
    try {
      Worker w = broker.own(Worker.start(config(broker, uri, name)));
      String tasks = broker.names().taskQueue("default");
      assertThat(broker.consumerCount(tasks)).isEqualTo(1);

      away(admin, w, name, permissions);
      String task = Broker.task(broker, "{\"type\":\"noop\"}");
      ControlMessage pause = Broker.command(Command.PAUSE, Target.all(), false);
      Broker.control(broker, pause);
      admin.createUser(name, PASSWORD, permissions); // back

      CommandApplied applied =
          Awaitility.await("the pause sent while the worker was away, applied")
              .atMost(Duration.ofSeconds(30))
              .until(() -> events.applied(pause.id()), l -> !l.isEmpty())
              .getFirst();
      assertThat(applied.worker()).isEqualTo(name);
      Awaitility.await("the reconnection done")
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  reconnections.all().stream()
                      .anyMatch(l -> l.endsWith("reconnected to the broker; paused")));
      assertThat(w.status().paused()).isTrue();
      assertThat(broker.consumerCount(tasks)).as("consumers of the task queue").isZero();
      assertThat(broker.messageCount(tasks))
          .as("the task sent meanwhile, still queued")
          .isEqualTo(1);
      assertThat(events.of(task)).isEmpty();

      // Paused when it goes, a resume sent meanwhile: it takes tasks again once back.
      away(admin, w, name, permissions);
      ControlMessage resume = Broker.command(Command.RESUME, Target.all(), false);
      Broker.control(broker, resume);
      admin.createUser(name, PASSWORD, permissions);
      events.await(task, TaskState.SUCCEEDED, Duration.ofSeconds(30));
      assertThat(events.applied(resume.id()))
          .extracting(CommandApplied::worker)
          .containsExactly(name);
      assertThat(w.status().paused()).isFalse();
    } finally {
      admin.deleteUser(name);
    }
  }

  /**
   * What a worker's queue of commands holds when it starts was meant for an earlier worker of its
   * name (one that died without deleting it), and is dropped; a worker that stops deletes it.
   */
  @Test
  void aStartingWorkerDropsCommandsMeantForAnEarlierOneAndAStoppingOneDeletesItsQueue(
      TestBroker broker) throws Exception {
    EventLog events = broker.own(EventLog.open(broker));
    String name = "again-" + broker.namespace();
    String commands = broker.names().commandsFor(name);
    broker.withChannel(ch -> broker.topology().declareCommands(ch, commands));
    ControlMessage stale = Broker.command(Command.PAUSE, Target.all(), false);
    Broker.control(broker, stale);
    assertThat(broker.messageCount(commands)).isEqualTo(1);

    Worker w = Worker.start(config(broker, broker.uri(), name));
    try {
      // Heard after whatever the queue held before it.
      ControlMessage later = Broker.command(Command.STOP, new Target.Tasks(List.of("none")), false);
      Broker.control(broker, later);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> !events.applied(later.id()).isEmpty());
      assertThat(events.applied(stale.id())).isEmpty();
      assertThat(w.status().paused()).isFalse();
      events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);
    } finally {
      w.close();
    }
    assertThat(broker.consumerCountOrMissing(commands))
        .as("the queue, after the worker")
        .isEqualTo(-1);
  }

  /**
   * Closes the worker's connection with its user's password changed, so that it cannot reconnect
   * until the password is given back; returns once the worker knows it is disconnected.
   */
  private static void away(BrokerAdmin admin, Worker w, String name, Permissions permissions) {
    admin.createUser(name, "another", permissions);
    admin.closeConnectionsOnceListed("conveyor-worker " + name, 1);
    Awaitility.await("disconnected").atMost(Duration.ofSeconds(30)).until(() -> !w.ready());
  }

  private static WorkerConfig config(TestBroker broker, URI uri, String name) {
    return WorkerConfig.defaults(
            new BrokerSettings(List.of(uri), broker.namespace(), Optional.empty()))
        .withName(name)
        .withConcurrency(2)
        .withShutdownGrace(Duration.ofMillis(500))
        .withKillGrace(Duration.ofMillis(500));
  }
}
