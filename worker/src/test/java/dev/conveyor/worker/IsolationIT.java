package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.isolation.Isolation;
import dev.conveyor.worker.isolation.TestHandlerJar;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --isolation process} with a real broker and real child JVMs: a kill ends one child, not
 * the worker; a child that exits, halts or runs out of heap fails its task with the cause; the
 * deadline ladder ends a spinning task without exit 70.
 */
@ExtendWith(BrokerExtension.class)
class IsolationIT {

  private static final Duration CHILDREN_START = Duration.ofSeconds(90);

  private final List<Integer> exits = new CopyOnWriteArrayList<>();

  private WorkerConfig config(TestBroker broker, Path dir, int concurrency) throws Exception {
    return WorkerConfig.defaults(broker.settings())
        .withName("w1")
        .withConcurrency(concurrency)
        .withIsolation(Isolation.PROCESS)
        .withChildHeap(Optional.of("48m"))
        .withHandlersDir(Optional.of(TestHandlerJar.in(dir)))
        .withShutdownGrace(Duration.ofMillis(500))
        .withKillGrace(Duration.ofSeconds(2))
        .withExit(exits::add);
  }

  /**
   * The child JVMs of this (test) JVM, that is of the in-process worker: the test starts no other
   * java. (Their command lines, with the whole class path, are too long for ProcessHandle to read
   * their arguments.)
   */
  private static Set<Long> children() {
    return ProcessHandle.current()
        .children()
        .filter(p -> p.info().command().map(c -> c.endsWith("/java")).orElse(false))
        .map(ProcessHandle::pid)
        .collect(Collectors.toSet());
  }

  private static String scrape(Worker worker) throws Exception {
    try (var http = java.net.http.HttpClient.newHttpClient()) {
      return http.send(
              java.net.http.HttpRequest.newBuilder(
                      java.net.URI.create("http://127.0.0.1:" + worker.metricsPort() + "/metrics"))
                  .build(),
              java.net.http.HttpResponse.BodyHandlers.ofString())
          .body();
    }
  }

  @Test
  void aKillEndsOneChildAndTheWorkerAndItsOtherTasksCarryOn(TestBroker broker, @TempDir Path dir)
      throws Exception {
    EventLog events = EventLog.open(broker);
    Worker worker = broker.own(Worker.start(config(broker, dir, 5).withMetricsPort(0)));
    // Concurrency 5 and one spare, all ready: the spin task must be running in a child, not
    // waiting for one to start, when it is killed.
    Awaitility.await()
        .atMost(CHILDREN_START)
        .until(() -> scrape(worker).contains("conveyor_children_spare{worker=\"w1\"} 6.0"));
    List<String> sleeps = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      sleeps.add(Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":3}}"));
    }
    String spin = Broker.task(broker, "{\"type\":\"spin\",\"payload\":{\"seconds\":600}}");
    events.await(spin, TaskState.RUNNING, CHILDREN_START);
    sleeps.forEach(id -> events.await(id, TaskState.RUNNING, CHILDREN_START));
    Set<Long> before = children();
    assertThat(worker.status().isolation()).isEqualTo("process");
    // control status shows each task's child: one of ours, a task run, its resident size.
    List<WorkerStatus.ChildProcess> shown =
        worker.status().tasks().stream().map(WorkerStatus.RunningTask::child).toList();
    assertThat(shown).hasSize(5).doesNotContainNull();
    assertThat(shown).extracting(WorkerStatus.ChildProcess::pid).doesNotHaveDuplicates();
    assertThat(before).containsAll(shown.stream().map(WorkerStatus.ChildProcess::pid).toList());
    assertThat(shown).allSatisfy(c -> assertThat(c.tasksRun()).isOne());
    assertThat(shown).allSatisfy(c -> assertThat(c.rssBytes()).isGreaterThan(1L << 20));

    Broker.control(broker, Broker.command(Command.KILL, new Target.Tasks(List.of(spin)), false));

    TaskEvent cancelled = events.await(spin, TaskState.CANCELLED);
    assertThat(cancelled.cause()).isEqualTo(Cause.USER_KILL);
    Set<Long> gone =
        before.stream().filter(p -> !children().contains(p)).collect(Collectors.toSet());
    assertThat(gone).hasSize(1);
    assertThat(ProcessHandle.of(gone.iterator().next()).map(ProcessHandle::isAlive))
        .isNotEqualTo(Optional.of(true));
    for (String id : sleeps) {
      assertThat(events.await(id, TaskState.SUCCEEDED, Duration.ofSeconds(60)).worker())
          .isEqualTo("w1");
    }
    String next = Broker.task(broker, "{\"type\":\"pid\"}");
    TaskEvent ran = events.await(next, TaskState.SUCCEEDED, CHILDREN_START);
    assertThat(ran.result().asLong()).isNotIn(gone).isNotEqualTo(ProcessHandle.current().pid());
    assertThat(worker.ready()).isTrue();
    assertThat(exits).isEmpty();
    // The pool refills: concurrency and a spare again.
    Awaitility.await().atMost(CHILDREN_START).until(() -> children().size() == 6);

    worker.close();

    assertThat(children()).isEmpty();
    for (long pid : before) {
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
    }
  }

  @Test
  void aChildThatExitsHaltsOrRunsOutOfHeapFailsItsTaskWithTheCause(
      TestBroker broker, @TempDir Path dir) throws Exception {
    EventLog events = EventLog.open(broker);
    Worker worker = broker.own(Worker.start(config(broker, dir, 2)));
    String exit =
        Broker.task(broker, "{\"type\":\"exit\",\"payload\":{\"code\":3},\"maxAttempts\":1}");
    String halt =
        Broker.task(broker, "{\"type\":\"halt\",\"payload\":{\"code\":4},\"maxAttempts\":1}");
    String oom = Broker.task(broker, "{\"type\":\"oom\",\"maxAttempts\":2}");

    TaskEvent exited = events.await(exit, TaskState.FAILED, CHILDREN_START);
    assertThat(exited.cause()).isEqualTo(Cause.HANDLER);
    assertThat(exited.reason()).isEqualTo("crashed: the child JVM exited with code 3");
    assertThat(events.await(halt, TaskState.FAILED, CHILDREN_START).reason())
        .isEqualTo("crashed: the child JVM exited with code 4");
    TaskEvent outOfMemory = events.await(oom, TaskState.FAILED, CHILDREN_START);
    assertThat(outOfMemory.reason())
        .isEqualTo("out-of-memory: the child JVM ran out of heap (--child-heap 48m)");
    // Retried while attempts remain, then dead-lettered like any failure.
    events.await(oom, TaskState.DEAD, CHILDREN_START);
    assertThat(
            events.of(oom).stream()
                .filter(e -> e.state() == TaskState.FAILED)
                .map(TaskEvent::attempt))
        .containsExactly(1, 2);

    String next = Broker.task(broker, "{\"type\":\"noop\"}");
    events.await(next, TaskState.SUCCEEDED, CHILDREN_START);
    assertThat(worker.ready()).isTrue();
    assertThat(exits).isEmpty();
  }

  /**
   * A result over the frame limit (64 MiB) was taken by the worker for a broken stream: it ended
   * the child, and the task, which had succeeded, was reported as crashed by SIGKILL and
   * dead-lettered. It succeeds, and its event says the result was left out.
   */
  @Test
  void aResultTooLargeToHandBackSucceedsWithoutItAndTheChildServesOn(
      TestBroker broker, @TempDir Path dir) throws Exception {
    EventLog events = EventLog.open(broker);
    Worker worker =
        broker.own(Worker.start(config(broker, dir, 1).withChildHeap(Optional.of("512m"))));
    String big = Broker.task(broker, "{\"type\":\"big\",\"payload\":{\"kib\":66560}}");

    TaskEvent done = events.await(big, TaskState.SUCCEEDED, CHILDREN_START);
    assertThat(done.result()).isNull();
    assertThat(done.reason())
        .startsWith("result left out: 665")
        .endsWith("KiB as JSON, over the 1024 KiB a task event carries");
    assertThat(events.states(big)).containsExactly(TaskState.RUNNING, TaskState.SUCCEEDED);
    Set<Long> before = children();
    String next = Broker.task(broker, "{\"type\":\"noop\"}");
    events.await(next, TaskState.SUCCEEDED, CHILDREN_START);
    assertThat(children()).isEqualTo(before);
    assertThat(worker.ready()).isTrue();
  }

  @Test
  void theDeadlineLadderEndsASpinningTaskInAChildWithoutEndingTheWorker(
      TestBroker broker, @TempDir Path dir) throws Exception {
    EventLog events = EventLog.open(broker);
    Worker worker = broker.own(Worker.start(config(broker, dir, 1)));
    String spin =
        Broker.task(
            broker,
            "{\"type\":\"spin\",\"payload\":{\"seconds\":600},\"timeoutMs\":500,\"graceMs\":200,"
                + "\"maxAttempts\":1}");

    TaskEvent timedOut = events.await(spin, TaskState.TIMED_OUT, CHILDREN_START);

    assertThat(timedOut.cause()).isEqualTo(Cause.DEADLINE);
    String next = Broker.task(broker, "{\"type\":\"noop\"}");
    events.await(next, TaskState.SUCCEEDED, CHILDREN_START);
    assertThat(worker.ready()).isTrue();
    assertThat(exits).isEmpty();
  }
}
