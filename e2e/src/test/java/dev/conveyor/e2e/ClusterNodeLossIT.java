package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.PrivateCluster;
import dev.conveyor.testkit.PrivateClusterExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.QueueCounts;
import dev.conveyor.testkit.TestBroker;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A three-node cluster ({@code bin/cluster}, ports and directory of its own) loses a node in the
 * middle of 2 000 short {@code exec} tasks worked by three worker processes, each connected to a
 * different node (its URI list rotated: its own node first, the others for failover). Every task
 * runs, the task queue ends empty with nothing unacknowledged, every worker survives, the tasks
 * that ran more than once are counted and printed, and afterwards {@code control stop --all},
 * {@code control status} and {@code producer publish --wait} work against the surviving nodes.
 *
 * <p>The task queue, dead-letter queue and control log are declared on node 1 (so led there); the
 * test's own connection and its event queue prefer node 2.
 */
@ExtendWith(PrivateClusterExtension.class)
class ClusterNodeLossIT {

  private static final int TASKS = 2000;
  private static final int WORKERS = 3;

  private final long start = System.nanoTime();
  private String scenario = "cluster";

  @Test
  void killingTheNodeThatLeadsTheTaskQueueLosesNoTaskAndNoWorker(
      PrivateCluster cluster, @TempDir Path dir) throws Exception {
    scenario = "cluster kill -9 leader";
    run(cluster, dir, true);
  }

  @Test
  void stoppingAFollowerNodeGracefullyLosesNoTaskAndNoWorker(
      PrivateCluster cluster, @TempDir Path dir) throws Exception {
    scenario = "cluster stop_app follower";
    run(cluster, dir, false);
  }

  /**
   * @param killLeader kill -9 the node that leads the task queue; else {@code rabbitmqctl stop_app}
   *     a node that follows it
   */
  private void run(PrivateCluster cluster, Path dir, boolean killLeader) throws Exception {
    lap("cluster up");
    TestBroker broker = cluster.testBroker(2);
    String taskQueue = broker.names().taskQueue("default");
    try (Connection first = connect(cluster.uri(1));
        Channel ch = first.createChannel()) {
      broker.topology().declareCore(ch);
      broker.topology().declareTaskQueue(ch, "default");
      broker.topology().declareControlLog(ch);
    }
    EventLog events = EventLog.openDurable(broker);
    ExecRuns runs = ExecRuns.create(dir, TASKS, 0.1, "");
    List<ProgramProcess> workers = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (int i = 1; i <= WORKERS; i++) {
      String name = "c" + i;
      names.add(name);
      workers.add(
          Programs.worker(
              broker,
              name,
              "--uri",
              uriList(cluster.urisFrom(i)),
              "--concurrency",
              "4",
              "--exec-allow",
              "/bin/sh"));
    }
    int leader = cluster.awaitLeader(2, taskQueue, Duration.ofSeconds(60));
    int victim;
    if (killLeader) {
      victim = leader;
    } else {
      victim =
          cluster.members(2, taskQueue).stream()
              .filter(n -> n != leader)
              .max(Integer::compare)
              .orElseThrow(() -> new AssertionError("the task queue has no follower"));
    }
    int asking = IntStream.rangeClosed(1, WORKERS).filter(n -> n != victim).max().orElseThrow();
    lap(
        "task queue led by node "
            + leader
            + "; node "
            + victim
            + " is to go; asking node "
            + asking);
    try {
      Awaitility.await("every worker started")
          .atMost(Duration.ofSeconds(120))
          .until(
              () ->
                  events.workers().stream()
                          .filter(e -> e.state().equals(WorkerEvent.STARTED))
                          .count()
                      == WORKERS);
      lap("workers started");
      Programs.Result published =
          Programs.run(broker, "producer", "publish", "--from", runs.tasksFile().toString());
      assertThat(published.exitCode()).as(published.output()).isZero();
      lap("published");

      Awaitility.await()
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(10))
          .until(() -> runs.started() >= TASKS / 4);
      int ranBeforeFault = runs.started();
      long faultAt = System.nanoTime();
      if (killLeader) {
        cluster.kill(victim);
        lap("node " + victim + " killed, " + ranBeforeFault + " tasks had started");
      } else {
        cluster.stopApp(victim);
        lap("node " + victim + " stopped (stop_app), " + ranBeforeFault + " tasks had started");
      }
      assertThat(runs.started()).as("tasks left for after the fault").isLessThan(TASKS);

      // The worker connected to the lost node reconnects to another one and consumes again.
      ProgramProcess moved = workers.get(victim - 1);
      Awaitility.await(moved + " consuming again on another node")
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(100))
          .until(() -> moved.output().contains("reconnected to the broker; consuming again"));
      lap(
          "worker "
              + names.get(victim - 1)
              + " consuming again "
              + (System.nanoTime() - faultAt) / 1_000_000
              + (killLeader
                  ? " ms after the kill (as this test saw it)"
                  : " ms after stop_app was invoked (rabbitmqctl's own start included)"));

      // Every worker hears commands and the others' word of lost deliveries again: the queues
      // that keep them for the moved worker lived on the lost node, so it consumes queues of other
      // names. And every worker is counted again on ns.workers, a quorum queue: a status round
      // waits for as many answers as it has consumers.
      Awaitility.await("every worker consuming its queues of commands and of the others' word")
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofSeconds(1))
          .untilAsserted(
              () -> {
                Map<String, Integer> consumers = cluster.consumers(asking);
                assertThat(consumers).containsEntry(broker.names().workers(), WORKERS);
                for (String n : names) {
                  for (String kept :
                      List.of(broker.names().requeuedFor(n), broker.names().commandsFor(n))) {
                    assertThat(consumers)
                        .as(kept + ", or the queue it moved to, consumed")
                        .anySatisfy(
                            (queue, count) -> {
                              assertThat(queue).matches(Pattern.quote(kept) + "(\\.moved-.*)?");
                              assertThat(count).isEqualTo(1);
                            });
                  }
                }
              });
      assertThat(moved.output())
          .as("the moved worker's queues, which lived on the lost node")
          .contains(
              "queue "
                  + broker.names().commandsFor(names.get(victim - 1))
                  + " cannot be declared (NOT_FOUND")
          .contains(
              "queue "
                  + broker.names().requeuedFor(names.get(victim - 1))
                  + " cannot be declared (NOT_FOUND");
      lap("every worker consuming its queues of commands and of the others' word, and counted");

      // What ran is what the tasks' own file says. (The queue's counts are no witness right after
      // a node loss: list_queues read 0 ready, 0 unacked for a queue still holding 1 500 tasks
      // while its new leader took over.)
      Awaitility.await("every task ran")
          .atMost(Duration.ofSeconds(240))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> runs.neverRan().isEmpty());
      lap("every task ran");
      Awaitility.await("the task queue empty, nothing unacked")
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofSeconds(1))
          .until(() -> cluster.queue(asking, taskQueue).equals(QueueCounts.EMPTY));
      lap("task queue empty");
      List<String> missing = List.of();
      try {
        Awaitility.await("every task's final event")
            .atMost(Duration.ofSeconds(30))
            .until(() -> Faults.finished(events).containsAll(runs.ids()));
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        missing = runs.ids().stream().filter(id -> !Faults.finished(events).contains(id)).toList();
        System.out.println("[" + scenario + "] ran and settled, final event lost: " + missing);
        assertThat(runs.runs().keySet()).as("the tasks without an event ran").containsAll(missing);
      }
      lap("every outcome in");
      for (ProgramProcess w : workers) {
        assertThat(w.process().isAlive()).as(w + " still running:\n" + w.output()).isTrue();
      }
      List<String> lost = missing;
      Faults.Figures figures =
          Faults.figures(scenario, runs, ranBeforeFault, broker, events, workers);
      Faults.print(figures);
      System.out.println(figures.duplicates());
      assertThat(runs.runs().keySet())
          .as("nothing ran that was not published")
          .isEqualTo(Set.copyOf(runs.ids()));
      assertThat(Faults.deadThatNeverRan(figures, runs))
          .as("dead-lettered tasks that never ran")
          .isEmpty();
      assertThat(Faults.succeeded(events))
          .as("tasks that succeeded (but those whose ack and event were lost in flight)")
          .containsAll(
              runs.ids().stream()
                  .filter(id -> !Faults.deadIds(figures).contains(id) && !lost.contains(id))
                  .toList());

      controlAfterTheFault(broker, events, names);
    } catch (RuntimeException | AssertionError e) {
      try {
        System.out.println("--- cluster:\n" + cluster.status());
      } catch (RuntimeException notThere) {
        System.out.println("--- cluster: " + notThere);
      }
      Faults.explain(events, runs, workers);
      throw e;
    }
  }

  /**
   * {@code control stop --all} ends three long tasks, {@code control status} lists every worker,
   * and {@code producer publish --wait} sees its tasks through: all against the surviving nodes
   * (the programs' URI lists still name the lost one).
   */
  private void controlAfterTheFault(TestBroker broker, EventLog events, List<String> names) {
    Programs.Result sleepers =
        Programs.run(
            broker,
            "producer",
            "publish",
            "--type",
            "sleep",
            "--payload",
            "{\"seconds\":300}",
            "--count",
            "3");
    assertThat(sleepers.exitCode()).as(sleepers.output()).isZero();
    List<String> ids = sleepers.lines();
    assertThat(ids).hasSize(3);
    for (String id : ids) {
      events.await(id, TaskState.RUNNING, Duration.ofSeconds(60));
    }
    long t0 = System.nanoTime();
    Programs.Result stop = Programs.run(broker, "control", "stop", "--all");
    assertThat(stop.exitCode()).as(stop.output()).isZero();
    for (String id : ids) {
      events.await(id, TaskState.CANCELLED, Duration.ofSeconds(60));
    }
    lap("control stop --all: 3 tasks cancelled, " + (System.nanoTime() - t0) / 1_000_000 + " ms");

    Programs.Result status = Programs.run(broker, "control", "status", "--json", "--timeout", "5s");
    assertThat(status.exitCode()).as(status.output()).isZero();
    for (String name : names) {
      assertThat(status.output()).as(status.output()).contains("\"worker\":\"" + name + "\"");
    }
    lap("control status lists every worker");

    Programs.Result waited =
        Programs.run(
            broker,
            "producer",
            "publish",
            "--type",
            "noop",
            "--count",
            "20",
            "--wait",
            "--wait-timeout",
            "60s");
    assertThat(waited.exitCode()).as(waited.output()).isZero();
    lap("producer publish --wait: 20 tasks through");
  }

  private static String uriList(List<URI> uris) {
    return uris.stream().map(URI::toString).collect(Collectors.joining(","));
  }

  private static Connection connect(URI uri) throws Exception {
    ConnectionFactory f = new ConnectionFactory();
    f.setHost(uri.getHost());
    f.setPort(uri.getPort());
    return f.newConnection("test-declare");
  }

  private void lap(String what) {
    System.out.printf("[%s] +%.1f s %s%n", scenario, (System.nanoTime() - start) / 1e9, what);
  }
}
