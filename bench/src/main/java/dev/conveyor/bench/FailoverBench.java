package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.worker.Worker;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * Node loss to consuming again: per round a fresh three-node cluster ({@code bin/cluster up}), one
 * in-process worker connected to node 1 (its URI list 1, 2, 3), whose task queue node 1 leads, noop
 * tasks flowing; then {@code kill -9} of node 1. Timed from just before the kill to the receipt (on
 * node 2) of the first {@code task.succeeded} after the outage: the first one received more than
 * {@code --gap-ms} after the kill, so that events already in flight do not count.
 */
@CommandLine.Command(
    name = "failover",
    mixinStandardHelpOptions = true,
    description = {
      "kill -9 of the node a worker is connected to (and that leads its task queue) on a fresh"
          + " 3-node bin/cluster per round: kill -> first task.succeeded after the outage."
    })
public class FailoverBench implements Callable<Integer> {

  @Option(
      names = "--rounds",
      defaultValue = "3",
      description = "Rounds, one cluster each (about a minute each) (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(
      names = "--base-port",
      defaultValue = "5701",
      description = "bin/cluster's --base-port (default: ${DEFAULT-VALUE}).")
  int basePort;

  @Option(
      names = "--gap-ms",
      defaultValue = "200",
      description =
          "Events received within this long after the kill were in flight before it"
              + " (default: ${DEFAULT-VALUE}).")
  int gapMs;

  @Option(names = "--json", description = "Print the results as one JSON object.")
  boolean json;

  @Option(
      names = "--repo",
      defaultValue = "${sys:conveyor.repo:-.}",
      description = "The repository, for bin/cluster (default: bench/run's).")
  Path repo;

  @Override
  public Integer call() throws Exception {
    Report report = new Report("failover");
    List<Double> samples = new ArrayList<>();
    Conditions.Meter meter = Conditions.start();
    for (int r = 1; r <= rounds; r++) {
      Path dir = Files.createTempDirectory("conveyor-bench-failover-");
      try {
        List<URI> uris = up(dir);
        double ms = round(dir, uris);
        progress("round %d: consuming again %.0f ms after the kill", r, ms);
        samples.add(ms);
      } finally {
        cluster(Duration.ofMinutes(2), "down", "--dir", dir.toString());
      }
    }
    Conditions c = meter.end();
    Stats s = new Stats(samples);
    report
        .text(
            "kill -9 of the worker's node (the task queue's leader) -> first task.succeeded after"
                + " the outage (ms): median %.0f, max %.0f, every round %s %s",
            s.median(), s.max(), samples.stream().map(v -> String.format("%.0f", v)).toList(), c)
        .put("consumingAgainMs", s.summary())
        .put("conditions", c.json());
    report.print(System.out, json);
    return 0;
  }

  private double round(Path dir, List<URI> uris) throws Exception {
    String ns = "bench-failover-" + Long.toHexString(System.nanoTime());
    Topology topology = new Topology(new dev.conveyor.protocol.topology.Names(ns));
    // Declared over node 1, so that node 1 leads the task queue.
    try (Connection c = raw(uris.get(0));
        Channel ch = c.createChannel()) {
      topology.declareCore(ch);
      topology.declareTaskQueue(ch, Harness.QUEUE);
      topology.declareControlLog(ch);
    }
    ConcurrentLinkedQueue<Long> succeeded = new ConcurrentLinkedQueue<>();
    try (Connection observer = raw(uris.get(1));
        EventSubscription events =
            EventSubscription.open(
                observer,
                topology,
                List.of("task." + TaskState.SUCCEEDED.wire()),
                e -> {
                  if (e instanceof Event.Task) {
                    succeeded.add(System.nanoTime());
                  }
                });
        Channel publisher = observer.createChannel()) {
      publisher.confirmSelect();
      byte[] noop = "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8);
      for (int i = 0; i < 50_000; i++) {
        publisher.basicPublish(
            topology.names().tasksExchange(),
            Harness.QUEUE,
            new com.rabbitmq.client.AMQP.BasicProperties.Builder()
                .messageId("f" + i)
                .deliveryMode(2)
                .build(),
            noop);
      }
      publisher.waitForConfirmsOrDie(120_000);
      Worker worker =
          Worker.start(
              dev.conveyor.worker.WorkerConfig.defaults(
                      new BrokerSettings(uris, ns, Optional.empty()))
                  .withName("bench-failover")
                  .withExit(code -> progress("worker asked to exit with %d (ignored)", code)));
      try {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (succeeded.size() < 1000) {
          if (System.nanoTime() > end) {
            throw new IllegalStateException("the worker did not get going within 60 s");
          }
          Harness.sleep(10);
        }
        long killed = kill(dir);
        long gap = TimeUnit.MILLISECONDS.toNanos(gapMs);
        end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (true) {
          Optional<Long> again = succeeded.stream().filter(t -> t - killed > gap).findFirst();
          if (again.isPresent()) {
            return Stats.millis(again.get() - killed);
          }
          if (System.nanoTime() > end) {
            throw new IllegalStateException("no task succeeded within 120 s of the kill");
          }
          Harness.sleep(5);
        }
      } finally {
        worker.close();
      }
    }
  }

  /** SIGKILL to node 1's VM; returns {@link System#nanoTime} just before it. */
  private static long kill(Path dir) throws IOException {
    long pid = Long.parseLong(Files.readString(dir.resolve("n1/pid")).strip());
    ProcessHandle vm =
        ProcessHandle.of(pid).orElseThrow(() -> new IllegalStateException("node 1 is not running"));
    long t = System.nanoTime();
    vm.destroyForcibly();
    vm.onExit().orTimeout(30, TimeUnit.SECONDS).join();
    return t;
  }

  private static Connection raw(URI uri) throws Exception {
    ConnectionFactory f = new ConnectionFactory();
    f.setHost(uri.getHost());
    f.setPort(uri.getPort());
    return f.newConnection("conveyor-bench failover");
  }

  private List<URI> up(Path dir) throws Exception {
    String out =
        cluster(
            Duration.ofMinutes(6),
            "up",
            "--nodes",
            "3",
            "--base-port",
            Integer.toString(basePort),
            "--dir",
            dir.toString());
    String last =
        out.lines()
            .filter(l -> l.startsWith("amqp://"))
            .reduce((a, b) -> b)
            .orElseThrow(
                () -> new IllegalStateException("bin/cluster up printed no URIs:\n" + out));
    return IntStream.range(0, 3).mapToObj(i -> URI.create(last.split(",")[i])).toList();
  }

  /** Runs bin/cluster; its output; fails if it exits non-zero. */
  private String cluster(Duration timeout, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(repo.resolve("bin/cluster").toString()));
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("conveyor-bench-cluster-", ".out");
    try {
      Process p =
          new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new IllegalStateException("bin/cluster " + String.join(" ", args) + " timed out");
      }
      String text = Files.readString(out);
      if (p.exitValue() != 0) {
        throw new IllegalStateException(
            "bin/cluster " + String.join(" ", args) + " exited " + p.exitValue() + ":\n" + text);
      }
      return text;
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
