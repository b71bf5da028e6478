package dev.conveyor.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A RabbitMQ cluster that belongs to one test, so that the test may kill or stop its nodes: started
 * by {@code bin/cluster up} with a directory of its own under {@code java.io.tmpdir} and a free
 * block of ports (never the default node's 5672/15672/25672), stopped and deleted by {@code
 * bin/cluster down} in {@link #close()} (and by a JVM shutdown hook, and by the next {@link #start}
 * for a cluster whose test JVM was killed). Nodes are numbered from 1. Without RabbitMQ installed,
 * {@link #start} fails and says so: never a skip.
 */
public final class PrivateCluster implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PrivateCluster.class);

  private static final String DIR_PREFIX = "conveyor-cluster-jvm";

  /** Three nodes start and join in 40-60 s on a quiet 2-CPU machine; give a loaded one far more. */
  private static final Duration UP_TIMEOUT = Duration.ofMinutes(6);

  private static final Duration CTL_TIMEOUT = Duration.ofSeconds(150);

  private final Path dir;
  private final int nodes;
  private final int basePort;
  private final List<URI> uris;
  private final List<TestBroker> namespaces = new ArrayList<>();
  private final Thread shutdownHook;
  private boolean closed;

  private PrivateCluster(Path dir, int nodes, int basePort, List<URI> uris) {
    this.dir = dir;
    this.nodes = nodes;
    this.basePort = basePort;
    this.uris = List.copyOf(uris);
    this.shutdownHook = new Thread(this::down, "conveyor-private-cluster-stop");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /** Starts {@code nodes} nodes and joins them; returns once the cluster runs. */
  public static PrivateCluster start(int nodes) {
    reapOrphans();
    Path dir;
    try {
      dir =
          Files.createTempDirectory(
              DIR_PREFIX + ProcessHandle.current().pid() + "-" + System.nanoTime() + "-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    int base = freeBlock(nodes);
    Run up =
        run(
            UP_TIMEOUT,
            dir,
            "up",
            "--nodes",
            Integer.toString(nodes),
            "--base-port",
            Integer.toString(base),
            "--dir",
            dir.toString());
    if (up.code() != 0) {
      run(Duration.ofMinutes(1), dir, "down", "--dir", dir.toString());
      deleteTree(dir);
      throw new IllegalStateException("bin/cluster up exited " + up.code() + ":\n" + up.output());
    }
    String last =
        up.output()
            .lines()
            .filter(l -> l.startsWith("amqp://"))
            .reduce((a, b) -> b)
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "bin/cluster up printed no URI list:\n" + up.output()));
    List<URI> uris = Stream.of(last.strip().split(",")).map(URI::create).toList();
    log.info("private RabbitMQ cluster in {}: {}", dir, last);
    return new PrivateCluster(dir, nodes, base, uris);
  }

  public int size() {
    return nodes;
  }

  /** The AMQP URI of node {@code i} (1-based). */
  public URI uri(int i) {
    return uris.get(i - 1);
  }

  /** Every node's URI, starting with node {@code first}: a worker connected there fails over. */
  public List<URI> urisFrom(int first) {
    List<URI> out = new ArrayList<>();
    for (int k = 0; k < nodes; k++) {
      out.add(uris.get((first - 1 + k) % nodes));
    }
    return out;
  }

  /** The Erlang node name of node {@code i}, e.g. {@code conveyor-23001-2@localhost}. */
  public String nodeName(int i) {
    return "conveyor-" + basePort + "-" + i + "@localhost";
  }

  /** The node number of an Erlang node name of this cluster. */
  public int nodeNumber(String nodeName) {
    for (int i = 1; i <= nodes; i++) {
      if (nodeName(i).equals(nodeName)) {
        return i;
      }
    }
    throw new IllegalArgumentException(nodeName + " is not a node of " + this);
  }

  /**
   * A namespace of a test on this cluster whose programs and connections try the nodes from {@code
   * first} on. Not deleted afterwards (the whole cluster is), but what it owns is closed before the
   * cluster stops.
   */
  public synchronized TestBroker testBroker(int first) {
    TestBroker broker = new TestBroker(urisFrom(first), false);
    namespaces.add(broker);
    return broker;
  }

  /** SIGKILL to node {@code i}'s Erlang VM; returns once it is gone. */
  public void kill(int i) {
    ProcessHandle vm =
        beamPid(i)
            .flatMap(ProcessHandle::of)
            .orElseThrow(() -> new IllegalStateException("node " + i + " is not running"));
    vm.destroyForcibly();
    vm.onExit().orTimeout(30, TimeUnit.SECONDS).join();
    log.info("killed node {} ({})", i, nodeName(i));
  }

  /** {@code rabbitmqctl stop_app} on node {@code i}: it leaves the cluster's running nodes. */
  public void stopApp(int i) {
    ctl(i, "stop_app");
  }

  /**
   * The leader node (number) of a quorum queue or stream, as the surviving node {@code asking} sees
   * it; empty while it has none.
   */
  public Optional<Integer> leader(int asking, String queue) {
    for (JsonNode q :
        json(ctl(asking, "list_queues", "-q", "--formatter", "json", "name", "leader"))) {
      if (queue.equals(q.path("name").asText())) {
        String leader = q.path("leader").asText("");
        return leader.isEmpty() || !leader.contains("@")
            ? Optional.empty()
            : Optional.of(nodeNumber(leader));
      }
    }
    throw new IllegalStateException("no queue " + queue + " on " + nodeName(asking));
  }

  /**
   * The nodes (numbers) that hold a replica of a quorum queue or stream, as node {@code asking}
   * sees it.
   */
  public List<Integer> members(int asking, String queue) {
    for (JsonNode q :
        json(ctl(asking, "list_queues", "-q", "--formatter", "json", "name", "members"))) {
      if (queue.equals(q.path("name").asText())) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode m : q.path("members")) {
          out.add(nodeNumber(m.asText()));
        }
        return out;
      }
    }
    throw new IllegalStateException("no queue " + queue + " on " + nodeName(asking));
  }

  /** Ready and unacknowledged messages of a queue, as node {@code asking} sees them. */
  public QueueCounts queue(int asking, String queue) {
    JsonNode list =
        json(
            ctl(
                asking,
                "list_queues",
                "-q",
                "--formatter",
                "json",
                "name",
                "messages_ready",
                "messages_unacknowledged"));
    for (JsonNode q : list) {
      if (queue.equals(q.path("name").asText())) {
        return new QueueCounts(
            q.path("messages_ready").asLong(), q.path("messages_unacknowledged").asLong());
      }
    }
    throw new IllegalStateException("no queue " + queue + " on " + nodeName(asking) + ": " + list);
  }

  /** The number of consumers of each queue, by name, as node {@code asking} sees them. */
  public Map<String, Integer> consumers(int asking) {
    Map<String, Integer> out = new TreeMap<>();
    for (JsonNode q :
        json(ctl(asking, "list_queues", "-q", "--formatter", "json", "name", "consumers"))) {
      out.put(q.path("name").asText(), q.path("consumers").asInt());
    }
    return out;
  }

  /** {@code bin/cluster status}'s output, for a failing test's message. */
  public String status() {
    return run(Duration.ofMinutes(1), dir, "status", "--dir", dir.toString()).output();
  }

  /**
   * {@code rabbitmqctl ARGS} against node {@code i}.
   *
   * @return its output
   * @throws IllegalStateException with the output if it fails
   */
  public String ctl(int i, String... args) {
    List<String> cmd =
        new ArrayList<>(List.of("ctl", Integer.toString(i), "--dir", dir.toString(), "--"));
    cmd.addAll(List.of(args));
    Run r = run(CTL_TIMEOUT, dir, cmd.toArray(String[]::new));
    if (r.code() != 0) {
      throw new IllegalStateException(
          "rabbitmqctl "
              + String.join(" ", args)
              + " on node "
              + i
              + " exited "
              + r.code()
              + ":\n"
              + r.output());
    }
    return r.output();
  }

  /** Stops every node and deletes the directory. */
  @Override
  public void close() {
    List<TestBroker> owned;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      owned = new ArrayList<>(namespaces);
    }
    for (TestBroker b : owned) {
      try {
        b.close();
      } catch (RuntimeException e) {
        log.warn("closing a namespace: {}", e.toString());
      }
    }
    down();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs (or ran) anyway
    }
  }

  private void down() {
    Run r = run(Duration.ofMinutes(2), dir, "down", "--dir", dir.toString());
    if (r.code() != 0) {
      log.warn("bin/cluster down exited {}: {}", r.code(), r.output());
    }
    deleteTree(dir);
  }

  private Optional<Long> beamPid(int i) {
    try {
      return Optional.of(
          Long.parseLong(
              Files.readString(dir.resolve("n" + i).resolve("pid"), StandardCharsets.UTF_8)
                  .strip()));
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  private record Run(int code, String output) {}

  /** Runs bin/cluster with ARGS; its exit code and output (stdout and stderr). */
  private static Run run(Duration timeout, Path dir, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProgramProcess.repo().resolve("bin/cluster").toString());
    cmd.addAll(List.of(args));
    try {
      Path out = Files.createTempFile("conveyor-cluster-", ".out");
      try {
        Process p =
            new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
          p.waitFor(5, TimeUnit.SECONDS);
          return new Run(
              -1,
              "bin/cluster "
                  + String.join(" ", args)
                  + " did not end within "
                  + timeout
                  + ":\n"
                  + Files.readString(out, StandardCharsets.UTF_8));
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
      } finally {
        Files.deleteIfExists(out);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /**
   * A base port B such that B…B+n-1, B+100…, B+200… and rabbitmqctl's B+10200… are free, all below
   * Linux's ephemeral range (32768 up): a port in it, free when checked, can be taken by any
   * client's outgoing connection before the node binds it (a CI run lost a node's management
   * listener so, with B = 37097).
   */
  private static int freeBlock(int n) {
    for (int tries = 0; tries < 200; tries++) {
      int base = ThreadLocalRandom.current().nextInt(20_000, 22_500);
      if (free(base, n) && free(base + 100, n) && free(base + 200, n) && free(base + 10_200, n)) {
        return base;
      }
    }
    throw new IllegalStateException("no free block of ports for a cluster of " + n);
  }

  private static boolean free(int from, int n) {
    for (int p = from; p < from + n; p++) {
      try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getLoopbackAddress())) {
        // free
      } catch (IOException e) {
        return false;
      }
    }
    return true;
  }

  /** Clusters whose test JVM died without stopping them: {@code bin/cluster down}. */
  private static void reapOrphans() {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    try (Stream<Path> dirs = Files.list(tmp)) {
      for (Path d : dirs.filter(p -> p.getFileName().toString().startsWith(DIR_PREFIX)).toList()) {
        String rest = d.getFileName().toString().substring(DIR_PREFIX.length());
        long owner;
        try {
          owner = Long.parseLong(rest.substring(0, rest.indexOf('-')));
        } catch (RuntimeException e) {
          continue;
        }
        if (ProcessHandle.of(owner).map(ProcessHandle::isAlive).orElse(false)) {
          continue;
        }
        log.warn("stopping the RabbitMQ cluster in {} left behind by JVM {}", d, owner);
        run(Duration.ofMinutes(2), d, "down", "--dir", d.toString());
        deleteTree(d);
      }
    } catch (IOException e) {
      log.warn("could not look for orphaned clusters in {}: {}", tmp, e.toString());
    }
  }

  private static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      log.warn("could not delete {}: {}", dir, e.toString());
    }
  }

  private static JsonNode json(String text) {
    try {
      return Wire.JSON.readTree(text);
    } catch (IOException e) {
      throw new IllegalStateException("rabbitmqctl printed no JSON: " + text, e);
    }
  }

  /** Waits (up to {@code timeout}) until node {@code asking} sees {@code queue} led by a node. */
  public int awaitLeader(int asking, String queue, Duration timeout) {
    return Awaitility.await("a leader of " + queue)
        .atMost(timeout)
        .pollInterval(Duration.ofMillis(500))
        .until(() -> leader(asking, queue), Optional::isPresent)
        .orElseThrow();
  }

  @Override
  public String toString() {
    return "cluster of " + nodes + " in " + dir;
  }
}
