package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code bin/worker --isolation process} as users run it, with {@code bin/producer} and {@code
 * bin/control}: a kill of a Java task that ignores interrupts ends its child JVM, not the worker
 * (docs/isolation.md). IsolationIT covers the same in-process; this one has the real launchers, a
 * real worker pid and real children of it.
 */
@ExtendWith(BrokerExtension.class)
class ProcessIsolationIT {

  /** Anything that waits for a JVM to start (worker, children, producer, control) on a busy CI. */
  private static final Duration SLOW = Duration.ofSeconds(120);

  /** The child JVMs of the worker process. */
  private static Set<Long> childJvms(ProgramProcess worker) {
    return worker
        .process()
        .children()
        .filter(p -> p.info().command().map(c -> c.endsWith("/java")).orElse(false))
        .map(ProcessHandle::pid)
        .collect(Collectors.toSet());
  }

  private static List<String> publish(TestBroker broker, String... args) {
    String[] all = new String[args.length + 1];
    all[0] = "publish";
    System.arraycopy(args, 0, all, 1, args.length);
    Programs.Result r = Programs.run(broker, "producer", all);
    assertThat(r.exitCode()).as(r.output()).isZero();
    return r.lines().stream().filter(l -> l.matches("[0-9a-zA-Z-]{8,}")).toList();
  }

  /** task id → the pid of the child JVM running it, from {@code control status --json}. */
  private static Map<String, Long> childrenByTask(TestBroker broker, String worker)
      throws Exception {
    Programs.Result status = Programs.run(broker, "control", "status", "--json");
    assertThat(status.exitCode()).as(status.output()).isZero();
    String json = status.lines().stream().filter(l -> l.startsWith("[")).findFirst().orElseThrow();
    Map<String, Long> out = new HashMap<>();
    for (JsonNode w : Wire.JSON.readTree(json)) {
      if (w.path("worker").asText().equals(worker)) {
        for (JsonNode t : w.path("tasks")) {
          out.put(t.path("id").asText(), t.path("child").path("pid").asLong(-1));
        }
      }
    }
    return out;
  }

  @Test
  void killOfASpinningTaskEndsItsChildAndTheWorkerAndItsOtherTasksCarryOn(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    ProgramProcess worker =
        Programs.worker(
            broker, "w-iso", "--isolation", "process", "--concurrency", "5", "--child-heap", "64m");
    long workerPid = worker.pid();
    Awaitility.await("worker.started")
        .atMost(SLOW)
        .until(
            () -> events.workers().stream().anyMatch(e -> e.state().equals(WorkerEvent.STARTED)));
    assertThat(
            events.workers().stream()
                .filter(e -> e.state().equals(WorkerEvent.STARTED))
                .map(WorkerEvent::pid))
        .containsExactly(workerPid);
    // Concurrency 5 and one spare: the kill's replacement must not wait for a JVM to start.
    Awaitility.await("6 child JVMs").atMost(SLOW).until(() -> childJvms(worker).size() == 6);

    // 45 s: still running when the kill lands, even if three JVMs (producer, control status,
    // control kill) take seconds each to start on a loaded machine.
    List<String> sleeps =
        publish(broker, "--type", "sleep", "--payload", "{\"seconds\":45}", "--count", "4");
    assertThat(sleeps).hasSize(4);
    String spin =
        publish(broker, "--type", "spin", "--payload", "{\"seconds\":600}", "--max-attempts", "1")
            .getFirst();
    events.await(spin, TaskState.RUNNING, SLOW);
    sleeps.forEach(id -> events.await(id, TaskState.RUNNING, SLOW));
    Map<String, Long> byTask = childrenByTask(broker, "w-iso");
    Long spinChild = byTask.get(spin);
    assertThat(spinChild).as("the spin task's child in %s", byTask).isNotNull().isPositive();
    assertThat(childJvms(worker)).contains(spinChild);
    List<Long> sleepChildren = sleeps.stream().map(byTask::get).toList();
    assertThat(sleepChildren)
        .doesNotContainNull()
        .doesNotHaveDuplicates()
        .doesNotContain(spinChild);

    Programs.Result kill = Programs.run(broker, "control", "kill", "--task", spin);

    assertThat(kill.exitCode()).as(kill.output()).isZero();
    TaskEvent cancelled = events.await(spin, TaskState.CANCELLED, SLOW);
    assertThat(cancelled.cause()).isEqualTo(Cause.USER_KILL);
    assertThat(cancelled.worker()).isEqualTo("w-iso");
    // The killed child is gone, reaped by the worker (no zombie left in /proc).
    Awaitility.await("the killed child reaped")
        .atMost(SLOW)
        .until(() -> !Files.exists(Path.of("/proc/" + spinChild)));
    assertThat(childJvms(worker)).doesNotContain(spinChild);
    // The four sleeps ran through, each once, in the child it started in.
    for (String id : sleeps) {
      TaskEvent done = events.await(id, TaskState.SUCCEEDED, SLOW);
      assertThat(done.worker()).isEqualTo("w-iso");
      assertThat(done.at()).isAfter(cancelled.at());
      assertThat(events.states(id)).containsExactly(TaskState.RUNNING, TaskState.SUCCEEDED);
    }
    // A new task runs right after, on the same worker process.
    String next = publish(broker, "--type", "noop").getFirst();
    assertThat(events.await(next, TaskState.SUCCEEDED, SLOW).worker()).isEqualTo("w-iso");

    assertThat(worker.process().isAlive()).as(worker.output()).isTrue();
    assertThat(worker.pid()).isEqualTo(workerPid);
    assertThat(
            events.workers().stream()
                .filter(e -> e.state().equals(WorkerEvent.STARTED))
                .map(WorkerEvent::pid))
        .as("the worker did not restart")
        .containsExactly(workerPid);
    assertThat(worker.output()).doesNotContain("cannot be killed");
    assertThat(events.workers().stream().map(WorkerEvent::state))
        .doesNotContain(WorkerEvent.TERMINATING);
    // The pool refills: five and a spare again, the killed one not among them.
    Awaitility.await("the pool refilled").atMost(SLOW).until(() -> childJvms(worker).size() == 6);
    assertThat(childJvms(worker)).doesNotContain(spinChild);

    // SIGTERM: the worker settles, ends its children and exits 0.
    Set<Long> last = childJvms(worker);
    worker.terminate();
    assertThat(worker.waitFor(SLOW)).as(worker.output()).isZero();
    for (long pid : last) {
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
    }
  }
}
