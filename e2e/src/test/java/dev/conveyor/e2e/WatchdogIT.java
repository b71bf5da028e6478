package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.Duplicates;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Issue 4's acceptance scenarios on real processes: crashes are counted, stuck workers restart. */
@ExtendWith(BrokerExtension.class)
class WatchdogIT {

  private static String publishOne(TestBroker broker, String... args) {
    List<String> all = new ArrayList<>(List.of("publish"));
    all.addAll(List.of(args));
    Programs.Result r = Programs.run(broker, "producer", all.toArray(String[]::new));
    assertThat(r.exitCode()).as(r.output()).isZero();
    return r.lines().getFirst().trim();
  }

  private static Map<String, String> withRestartDelay(Map<String, String> env) {
    Map<String, String> out = new java.util.HashMap<>(env);
    out.put("CONVEYOR_RESTART_DELAY", "1");
    return out;
  }

  private static long started(EventLog events) {
    return events.workers().stream().filter(e -> e.state().equals(WorkerEvent.STARTED)).count();
  }

  @Test
  void aTaskWhoseWorkerDiesEveryTimeIsDeadLetteredAfterItsAttempts(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    String id =
        publishOne(
            broker, "--type", "sleep", "--payload", "{\"seconds\":60}", "--max-attempts", "2");
    for (int attempt = 1; attempt <= 2; attempt++) {
      ProgramProcess victim = Programs.worker(broker, "victim" + attempt);
      int n = attempt;
      TaskEvent running =
          Awaitility.await()
              .atMost(Duration.ofSeconds(60))
              .until(
                  () ->
                      events.of(id).stream()
                          .filter(e -> e.state() == TaskState.RUNNING && e.attempt() == n)
                          .findFirst()
                          .orElse(null),
                  e -> e != null);
      assertThat(running.worker()).isEqualTo("victim" + attempt);
      victim.process().destroyForcibly(); // kill -9: nothing is settled
      victim.waitFor(Duration.ofSeconds(10));
    }
    Programs.worker(broker, "survivor");
    TaskEvent dead = events.await(id, TaskState.DEAD, Duration.ofSeconds(60));
    assertThat(dead.cause()).isEqualTo(Cause.WORKER_LOST);
    assertThat(dead.worker()).isEqualTo("survivor");
    String next = publishOne(broker, "--type", "noop");
    events.await(next, TaskState.SUCCEEDED);
    List<GetResponse> dlq = new ArrayList<>();
    Awaitility.await().until(() -> dlq.addAll(broker.drainDead()) || !dlq.isEmpty());
    assertThat(dlq.getFirst().getProps().getHeaders().get(Headers.DEAD_CAUSE).toString())
        .isEqualTo("worker-lost");
    Duplicates d = events.duplicates("kill -9 of the worker running the task, twice", List.of(id));
    assertThat(d.reruns())
        .extracting(Duplicates.Rerun::why)
        .as("no task runs again after it finished")
        .doesNotContain(Duplicates.Why.FINISHED_SAME_WORKER, Duplicates.Why.FINISHED_OTHER_WORKER);
  }

  @Test
  void aSpinningTaskPastItsDeadlineRestartsItsWorkerUntilItIsDeadLettered(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    // bin/workers supervises without Docker: a worker that exits 70 is started again.
    ProgramProcess supervisor =
        broker.own(
            ProgramProcess.start(
                "workers",
                Programs.env(broker),
                List.of("1", "--kill-grace", "1s", "--shutdown-grace", "2s")));
    Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> started(events) >= 1);
    String id =
        publishOne(
            broker,
            "--type",
            "spin",
            "--payload",
            "{\"seconds\":60}",
            "--timeout",
            "1s",
            "--grace",
            "1s",
            "--max-attempts",
            "2");
    TaskEvent dead = events.await(id, TaskState.DEAD, Duration.ofSeconds(90));
    assertThat(dead.cause()).isEqualTo(Cause.DEADLINE);
    assertThat(events.states(id))
        .containsExactly(
            TaskState.RUNNING,
            TaskState.TIMED_OUT,
            TaskState.REQUEUED,
            TaskState.RUNNING,
            TaskState.TIMED_OUT,
            TaskState.DEAD);
    // Each worker announces its end after settling the task.
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                events.workers().stream()
                        .filter(e -> e.state().equals(WorkerEvent.TERMINATING))
                        .count()
                    == 2);
    // Restarted after each termination, and still serving.
    Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> started(events) >= 3);
    String next = publishOne(broker, "--type", "noop");
    events.await(next, TaskState.SUCCEEDED, Duration.ofSeconds(60));
    supervisor.terminate();
    assertThat(supervisor.waitFor(Duration.ofSeconds(30))).as(supervisor.output()).isZero();
  }

  @Test
  void aTaskThatKillsItsWorkerEveryTimeIsDeadLetteredAndTheWorkersKeepServing(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    ProgramProcess supervisor =
        broker.own(
            ProgramProcess.start(
                "workers",
                withRestartDelay(Programs.env(broker)),
                List.of("1", "--exec-allow", "/bin/sh")));
    Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> started(events) >= 1);
    // The child's parent is the worker's JVM: every attempt takes its worker down with it.
    String id =
        publishOne(
            broker,
            "--type",
            "exec",
            "--payload",
            "{\"command\":[\"/bin/sh\",\"-c\",\"kill -9 $PPID\"]}",
            "--max-attempts",
            "2");
    TaskEvent dead = events.await(id, TaskState.DEAD, Duration.ofSeconds(90));
    assertThat(dead.cause()).isEqualTo(Cause.WORKER_LOST);
    assertThat(events.of(id).stream().filter(e -> e.state() == TaskState.RUNNING))
        .extracting(TaskEvent::attempt)
        .containsExactly(1, 2);
    assertThat(started(events)).isGreaterThanOrEqualTo(3);
    Duplicates d = events.duplicates("a task that kills its worker (kill -9)", List.of(id));
    assertThat(d.reruns())
        .extracting(Duplicates.Rerun::why)
        .as("no task runs again after it finished")
        .doesNotContain(Duplicates.Why.FINISHED_SAME_WORKER, Duplicates.Why.FINISHED_OTHER_WORKER);
    String next = publishOne(broker, "--type", "noop");
    events.await(next, TaskState.SUCCEEDED, Duration.ofSeconds(60));
    supervisor.terminate();
    assertThat(supervisor.waitFor(Duration.ofSeconds(30))).as(supervisor.output()).isZero();
  }

  @Test
  void expiredTasksNeverRun(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    String id = publishOne(broker, "--type", "noop", "--expires-in", "1ms");
    Programs.worker(broker, "w1");
    TaskEvent expired = events.await(id, TaskState.EXPIRED, Duration.ofSeconds(60));
    assertThat(expired.cause()).isEqualTo(Cause.EXPIRED);
    assertThat(events.states(id)).containsExactly(TaskState.EXPIRED);
  }
}
