package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Issue 5's scenarios: graceful SIGTERM in the middle of a run, metrics and health. */
@ExtendWith(BrokerExtension.class)
class OperationsIT {

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @Test
  void sigtermToOneOfThreeWorkersMidRunLosesNothing(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    ProgramProcess w1 = Programs.worker(broker, "w1", "--concurrency", "2");
    Programs.worker(broker, "w2", "--concurrency", "2");
    Programs.worker(broker, "w3", "--concurrency", "2");
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                events.workers().stream().filter(e -> e.state().equals(WorkerEvent.STARTED)).count()
                    == 3);
    try (ProgramProcess producer =
        ProgramProcess.start(
            "producer",
            Programs.env(broker),
            List.of(
                "publish",
                "--type",
                "sleep",
                "--payload",
                "{\"seconds\":0.3}",
                "--count",
                "60",
                "--wait"))) {
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  events.tasks().stream()
                      .anyMatch(e -> "w1".equals(e.worker()) && e.state() == TaskState.SUCCEEDED));
      w1.terminate();
      assertThat(w1.waitFor(Duration.ofSeconds(30))).as(w1.output()).isZero();
      assertThat(producer.waitFor(Duration.ofSeconds(120))).as(producer.output()).isZero();
      assertThat(producer.output().lines().filter(l -> l.endsWith(" succeeded")).count())
          .isEqualTo(60);
    }
    Awaitility.await()
        .until(
            () ->
                events.workers().stream()
                    .anyMatch(
                        e -> e.worker().equals("w1") && e.state().equals(WorkerEvent.STOPPING)));
    assertThat(broker.messageCount(broker.names().taskQueue("default"))).isZero();
  }

  @Test
  void theNoDockerDemoRunsWorkersAndAProducerAndStopsThemCleanly(TestBroker broker) {
    Programs.Result demo = Programs.run(broker, "demo", "2", "4");
    assertThat(demo.exitCode()).as(demo.output()).isZero();
    assertThat(demo.lines().stream().filter(l -> l.endsWith(" succeeded")).count())
        .as(demo.output())
        .isEqualTo(4);
    assertThat(demo.output()).contains("all workers have exited");
    assertThat(broker.messageCount(broker.names().taskQueue("default"))).isZero();
  }

  @Test
  void aSecondSigtermSkipsTheShutdownGraceAndRequeuesWithoutUsingAnAttempt(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    ProgramProcess w = Programs.worker(broker, "patient", "--shutdown-grace", "60s");
    Programs.Result r =
        Programs.run(
            broker,
            "producer",
            "publish",
            "--type",
            "sleep",
            "--payload",
            "{\"seconds\":120}",
            "--count",
            "2");
    assertThat(r.exitCode()).as(r.output()).isZero();
    List<String> ids = r.lines().stream().filter(l -> l.matches("[0-9a-f-]{36}")).toList();
    assertThat(ids).as(r.output()).hasSize(2);
    ids.forEach(id -> events.await(id, TaskState.RUNNING, Duration.ofSeconds(60)));
    long start = System.nanoTime();
    w.terminate();
    Awaitility.await()
        .until(
            () -> events.workers().stream().anyMatch(e -> e.state().equals(WorkerEvent.STOPPING)));
    w.terminate();
    assertThat(w.waitFor(Duration.ofSeconds(30))).as(w.output()).isZero();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(30));
    for (String id : ids) {
      TaskEvent requeued = events.await(id, TaskState.REQUEUED);
      assertThat(requeued.cause()).isEqualTo(Cause.SHUTDOWN);
    }
    assertThat(broker.messageCount(broker.names().taskQueue("default"))).isEqualTo(2);
    // Back in the queue with the attempt given back: a new worker runs them as attempt 1 again.
    Programs.worker(broker, "next");
    for (String id : ids) {
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  events.of(id).stream()
                          .filter(e -> e.state() == TaskState.RUNNING && e.attempt() == 1)
                          .count()
                      == 2);
    }
  }

  @Test
  void metricsCountWhatTheEventsShowAndHealthFollowsTheConnection(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    int port = freePort();
    String name = "metered-" + broker.namespace();
    Programs.worker(broker, name, "--metrics-port", Integer.toString(port));
    Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> get(port, "/health") == 200);
    Programs.Result r =
        Programs.run(broker, "producer", "publish", "--type", "noop", "--count", "7", "--wait");
    assertThat(r.exitCode()).as(r.output()).isZero();
    Programs.Result failed =
        Programs.run(broker, "producer", "publish", "--type", "fail", "--count", "2", "--wait");
    // --wait prints each outcome and exits 1 when any task did not succeed.
    assertThat(failed.exitCode()).as(failed.output()).isEqualTo(1);
    assertThat(failed.lines().stream().filter(l -> l.matches("[0-9a-f-]{36} dead handler .*")))
        .as(failed.output())
        .hasSize(2);
    assertThat(failed.lines())
        .anyMatch(l -> l.matches("producer: waited 2 tasks: 2 dead \\(.+ s\\)"));
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              String metrics = body(port, "/metrics");
              assertThat(counter(metrics, "conveyor_tasks_finished_total", "state=\"succeeded\""))
                  .isEqualTo(7.0);
              assertThat(counter(metrics, "conveyor_tasks_finished_total", "state=\"dead\""))
                  .isEqualTo(2.0);
              assertThat(counter(metrics, "conveyor_tasks_started_total", "type=\"noop\""))
                  .isEqualTo(7.0);
              assertThat(metrics).contains("rabbitmq_published_total");
            });
    Awaitility.await()
        .until(
            () ->
                events.tasks().stream().filter(e -> e.state() == TaskState.SUCCEEDED).count() == 7);

    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed("conveyor-worker " + name, 1);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> get(port, "/health") == 503);
    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> get(port, "/health") == 200);
  }

  /**
   * A worker that loses its connection says so in its own words, with the broker's reason, and says
   * when it is back: amqp-client's own line for the closed socket ("An unexpected connection driver
   * error occurred") only repeated it, one to three times a loss, and is left out as the other
   * programs leave it out.
   */
  @Test
  void aWorkerTellsOfALostConnectionInItsOwnWordsOnly(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    String name = "told-" + broker.namespace();
    ProgramProcess worker = Programs.worker(broker, name);
    events.awaitWorker(name, WorkerEvent.STARTED);

    new BrokerAdmin(broker.uri()).closeConnectionsOnceListed("conveyor-worker " + name, 1);
    events.awaitWorker(name, WorkerEvent.RECONNECTED);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> worker.output().contains("reconnected to the broker"));

    assertThat(worker.output())
        .contains("lost the broker connection (CONNECTION_FORCED - Closed via management plugin)")
        .doesNotContain("ForgivingExceptionHandler");
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static int get(int port, String path) {
    try {
      return HTTP.send(request(port, path), HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  private static String body(int port, String path) throws Exception {
    return HTTP.send(request(port, path), HttpResponse.BodyHandlers.ofString()).body();
  }

  private static HttpRequest request(int port, String path) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(5))
        .build();
  }

  /** Sums a Prometheus counter over the series that carry the given label. */
  static double counter(String metrics, String name, String label) {
    Pattern p = Pattern.compile("^" + name + "\\{([^}]*)\\} ([0-9.eE+-]+)$", Pattern.MULTILINE);
    Matcher m = p.matcher(metrics);
    double sum = 0;
    while (m.find()) {
      if (m.group(1).contains(label)) {
        sum += Double.parseDouble(m.group(2));
      }
    }
    return sum;
  }
}
