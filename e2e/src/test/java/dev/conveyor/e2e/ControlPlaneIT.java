package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.topology.Permissions;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.Duplicates;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Issue 3's acceptance scenarios, on real processes. */
@ExtendWith(BrokerExtension.class)
class ControlPlaneIT {

  /** Queues an {@code exec} task that would create {@code marker} if it ran. */
  private static void publishTouch(TestBroker broker, String id, Path marker) {
    publish(
        broker,
        "--id",
        id,
        "--type",
        "exec",
        "--payload",
        "{\"command\":[\"/usr/bin/touch\",\"" + marker + "\"]}");
  }

  private static void awaitStarted(EventLog events, int n) {
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                events.workers().stream().filter(e -> e.state().equals(WorkerEvent.STARTED)).count()
                    >= n);
  }

  private static List<String> publish(TestBroker broker, String... args) {
    List<String> all = new ArrayList<>(List.of("publish"));
    all.addAll(List.of(args));
    Programs.Result r = Programs.run(broker, "producer", all.toArray(String[]::new));
    assertThat(r.exitCode()).as(r.output()).isZero();
    return r.lines().stream().filter(l -> l.matches("[0-9a-zA-Z-]{8,}")).toList();
  }

  @Test
  void stopAllCancelsEveryTaskAndThePoolKeepsServing(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    Programs.worker(broker, "w1", "--concurrency", "2");
    Programs.worker(broker, "w2", "--concurrency", "2");
    awaitStarted(events, 2);
    List<String> ids =
        publish(broker, "--type", "sleep", "--payload", "{\"seconds\":10}", "--count", "4");
    assertThat(ids).hasSize(4);
    ids.forEach(id -> events.await(id, TaskState.RUNNING, Duration.ofSeconds(20)));
    long start = System.nanoTime();

    Programs.Result stop = Programs.run(broker, "control", "stop", "--all");

    assertThat(stop.exitCode()).as(stop.output()).isZero();
    for (String id : ids) {
      TaskEvent e = events.await(id, TaskState.CANCELLED, Duration.ofSeconds(8));
      assertThat(e.cause()).isEqualTo(Cause.USER_STOP);
      assertThat(e.issuedBy()).contains("@");
    }
    // Well before the 10 s sleep would have ended, JVM start of `control` included.
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
    List<String> next = publish(broker, "--type", "noop", "--count", "4");
    for (String id : next) {
      assertThat(events.await(id, TaskState.SUCCEEDED).worker()).isIn("w1", "w2");
    }
  }

  @Test
  void killEndsAnExecProcessTreeAndReapsIt(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    ProgramProcess worker = Programs.worker(broker, "w1", "--exec-allow", "/bin/sh");
    awaitStarted(events, 1);
    String id =
        publish(
                broker,
                "--type",
                "exec",
                "--payload",
                "{\"command\":[\"/bin/sh\",\"-c\",\"sleep 600 & sleep 600; wait\"]}")
            .getFirst();
    events.await(id, TaskState.RUNNING);
    List<ProcessHandle> tree =
        Awaitility.await()
            .until(
                () ->
                    worker
                        .process()
                        .descendants()
                        .filter(p -> !p.info().command().orElse("").contains("java"))
                        .toList(),
                l -> l.size() >= 3);

    Programs.Result kill = Programs.run(broker, "control", "kill", "--task", id);

    assertThat(kill.exitCode()).as(kill.output()).isZero();
    assertThat(events.await(id, TaskState.CANCELLED).cause()).isEqualTo(Cause.USER_KILL);
    for (ProcessHandle p : tree) {
      Path proc = Path.of("/proc/" + p.pid());
      assertThat(Files.exists(proc)).as("pid %d reaped: %s", p.pid(), describe(proc)).isFalse();
    }
  }

  private static String describe(Path proc) {
    try {
      return Files.readString(proc.resolve("stat"));
    } catch (java.io.IOException e) {
      return "gone";
    }
  }

  @Test
  void killOfASpinningTaskEndsItsWorkerWith70AndAnotherWorkerFinishesTheRest(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    ProgramProcess doomed = Programs.worker(broker, "doomed", "--concurrency", "3");
    awaitStarted(events, 1);
    String spin = publish(broker, "--type", "spin", "--payload", "{\"seconds\":120}").getFirst();
    // Long enough to be still running when the worker gives up on the spinning task.
    List<String> others =
        publish(broker, "--type", "sleep", "--payload", "{\"seconds\":8}", "--count", "2");
    events.await(spin, TaskState.RUNNING);
    others.forEach(id -> events.await(id, TaskState.RUNNING));

    Programs.Result kill = Programs.run(broker, "control", "kill", "--task", spin);

    assertThat(doomed.waitFor(Duration.ofSeconds(30)))
        .as(doomed.output())
        .isEqualTo(ExitCodes.STUCK_TASK);
    assertThat(kill.exitCode()).as(kill.output()).isZero();
    assertThat(events.await(spin, TaskState.CANCELLED).cause()).isEqualTo(Cause.USER_KILL);
    Programs.worker(broker, "rescuer");
    for (String id : others) {
      assertThat(events.await(id, TaskState.SUCCEEDED, Duration.ofSeconds(60)).worker())
          .isEqualTo("rescuer");
    }
    assertThat(broker.messageCount(broker.names().taskQueue("default"))).isZero();
  }

  @Test
  void aStopForAQueuedTaskIsHonouredByAWorkerStartedAfterIt(TestBroker broker, @TempDir Path dir) {
    EventLog events = EventLog.open(broker);
    Path marker = dir.resolve("ran");
    String id = "queued-task-" + System.nanoTime();

    Programs.Result stop = Programs.run(broker, "control", "stop", "--task", id, "--no-wait");
    assertThat(stop.exitCode()).as(stop.output()).isZero();
    publishTouch(broker, id, marker);
    Programs.worker(broker, "late", "--exec-allow", "/usr/bin/touch");

    TaskEvent cancelled = events.await(id, TaskState.CANCELLED, Duration.ofSeconds(60));
    assertThat(cancelled.cause()).isEqualTo(Cause.REVOKED);
    assertThat(events.states(id)).doesNotContain(TaskState.RUNNING);
    assertThat(marker).doesNotExist();
  }

  /**
   * A start reads the control log from the last checkpoint an earlier start left, which carries the
   * stops still honoured from before it: a stop older than every earlier start still reaches a task
   * queued after them.
   */
  @Test
  void aStopCarriedByEarlierStartsCheckpointsIsHonouredByALaterWorker(
      TestBroker broker, @TempDir Path dir) {
    EventLog events = EventLog.open(broker);
    Path marker = dir.resolve("ran");
    String id = "queued-task-" + System.nanoTime();
    Programs.Result stop = Programs.run(broker, "control", "stop", "--task", id, "--no-wait");
    assertThat(stop.exitCode()).as(stop.output()).isZero();
    for (int i = 1; i <= 2; i++) {
      ProgramProcess earlier = Programs.worker(broker, "earlier-" + i);
      awaitStarted(events, i);
      earlier.terminate();
      assertThat(earlier.waitFor(Duration.ofSeconds(30))).as(earlier.output()).isZero();
    }
    publishTouch(broker, id, marker);

    ProgramProcess late =
        Programs.worker(
            broker,
            Map.of("CONVEYOR_LOG_LEVEL", "DEBUG"),
            "late",
            "--exec-allow",
            "/usr/bin/touch");

    TaskEvent cancelled = events.await(id, TaskState.CANCELLED, Duration.ofSeconds(60));
    assertThat(cancelled.cause()).isEqualTo(Cause.REVOKED);
    assertThat(marker).doesNotExist();
    // Read from the last checkpoint, which carried the stop: not from the stop itself.
    assertThat(late.output()).contains("read from offset").contains("stops still honoured: 1");
  }

  @Test
  void statusListsLiveWorkersAndTheirTasks(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    Programs.worker(broker, "w1");
    awaitStarted(events, 1);
    String id =
        publish(broker, "--type", "sleep", "--payload", "{\"seconds\":30}", "--timeout", "60s")
            .getFirst();
    events.await(id, TaskState.RUNNING);

    Programs.Result status = Programs.run(broker, "control", "status", "--json");

    assertThat(status.exitCode()).as(status.output()).isZero();
    assertThat(status.output()).contains("\"worker\":\"w1\"").contains(id).contains("\"deadline\"");
    Programs.Result table = Programs.run(broker, "control", "status");
    assertThat(table.output()).contains("w1").contains(id.substring(0, 8));
    assertThat(Set.of(0)).contains(Programs.run(broker, "control", "stop", "--all").exitCode());
  }

  @Test
  void whenEveryWorkerLosesItsConnectionNoTaskIsLostAndNoAttemptUsed(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    String prefix = "cut-" + broker.namespace();
    Programs.worker(broker, prefix + "-1", "--concurrency", "1");
    Programs.worker(broker, prefix + "-2", "--concurrency", "1");
    awaitStarted(events, 2);
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    // Listed by the management API only once their first statistics are in.
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> admin.countConnections("conveyor-worker " + prefix) == 2);
    // maxAttempts 1, the default: neither redelivery may count.
    List<String> ids =
        publish(broker, "--type", "sleep", "--payload", "{\"seconds\":5}", "--count", "2");
    ids.forEach(id -> events.await(id, TaskState.RUNNING, Duration.ofSeconds(20)));

    assertThat(admin.closeConnections("conveyor-worker " + prefix)).isEqualTo(2);

    for (String id : ids) {
      TaskEvent done = events.await(id, TaskState.SUCCEEDED, Duration.ofSeconds(60));
      assertThat(done.attempt()).isEqualTo(1);
      assertThat(events.of(id))
          .anyMatch(e -> e.state() == TaskState.REQUEUED && e.cause() == Cause.CONNECTION_LOST)
          .noneMatch(e -> e.state() == TaskState.DEAD);
    }
    Duplicates d = events.duplicates("the broker closes every worker's connection", ids);
    assertThat(d.reruns())
        .extracting(Duplicates.Rerun::why)
        .as("no task runs again after it finished")
        .doesNotContain(Duplicates.Why.FINISHED_SAME_WORKER, Duplicates.Why.FINISHED_OTHER_WORKER);
    assertThat(d.succeededTwice()).isEmpty();
  }

  /**
   * Issue 12: without the workers' key a stop is refused, and control says so instead of "revoked".
   */
  @Test
  void aStopWithoutTheWorkersKeyIsReportedRefusedAndTheTaskRunsOn(
      TestBroker broker, @TempDir Path dir) throws Exception {
    Path key = Files.writeString(dir.resolve("control.key"), "s3cret\n");
    EventLog events = EventLog.open(broker);
    Programs.worker(broker, "s1", "--control-key-file", key.toString());
    awaitStarted(events, 1);
    String id = publish(broker, "--type", "sleep", "--payload", "{\"seconds\":30}").getFirst();
    events.await(id, TaskState.RUNNING, Duration.ofSeconds(20));

    Programs.Result refused = Programs.run(broker, "control", "stop", "--task", id);

    assertThat(refused.exitCode()).as(refused.output()).isEqualTo(ExitCodes.FAILURE);
    assertThat(refused.output())
        .contains("refused by s1: unsigned — set CONVEYOR_CONTROL_KEY")
        .doesNotContain("revoked")
        .doesNotContain("no live workers");
    assertThat(events.states(id)).containsExactly(TaskState.RUNNING);

    Programs.Result status = Programs.run(broker, "control", "status");
    assertThat(status.exitCode()).as(status.output()).isEqualTo(ExitCodes.FAILURE);
    assertThat(status.output()).contains("refused by s1: unsigned").doesNotContain("no live");

    Programs.Result signed =
        Programs.run(broker, "control", "stop", "--task", id, "--control-key-file", key.toString());
    assertThat(signed.exitCode()).as(signed.output()).isZero();
    assertThat(events.await(id, TaskState.CANCELLED).cause()).isEqualTo(Cause.USER_STOP);
  }

  /**
   * {@code bin/control pause} run while a {@code bin/worker} reconnects holds once the worker is
   * back: it takes nothing, and a task sent meanwhile waits until {@code resume}. Held open: the
   * worker's user has another password while its connection is closed, so every reconnection is
   * refused until the test gives it back.
   */
  @Test
  void aPauseSentWhileAWorkerReconnectsHoldsOnceItIsBack(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    String name = "away-" + broker.namespace();
    Permissions permissions = Permissions.worker(broker.names());
    URI as = admin.createUser(name, "pw", permissions);
    broker.own(() -> admin.deleteUser(name));
    ProgramProcess worker =
        Programs.worker(broker, Map.of("CONVEYOR_URI", as.toString()), name, "--concurrency", "1");
    awaitStarted(events, 1);

    admin.createUser(name, "another", permissions);
    admin.closeConnectionsOnceListed("conveyor-worker " + name, 1);
    Awaitility.await("disconnected")
        .atMost(Duration.ofSeconds(30))
        .until(() -> worker.output().contains("lost the broker connection"));
    Programs.Result pause = Programs.run(broker, "control", "pause");
    assertThat(pause.exitCode()).as(pause.output()).isZero();
    String id = publish(broker, "--type", "noop").getFirst();
    admin.createUser(name, "pw", permissions);

    Awaitility.await("back")
        .atMost(Duration.ofSeconds(30))
        .until(() -> worker.output().contains("reconnected to the broker"));
    Programs.Result status = Programs.run(broker, "control", "status", "--json", "--timeout", "5s");
    assertThat(status.exitCode()).as(status.output()).isZero();
    assertThat(status.output()).contains("\"worker\":\"" + name + "\"").contains("\"paused\":true");
    assertThat(events.of(id)).as("the task sent meanwhile").isEmpty();

    assertThat(Programs.run(broker, "control", "resume").exitCode()).isZero();
    events.await(id, TaskState.SUCCEEDED);
  }
}
