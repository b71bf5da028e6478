package dev.conveyor.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.ConnectionFactory;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A RabbitMQ node that belongs to one test, so that the test may stop, restart or alarm it: started
 * by {@code bin/lib/rabbit-node} from the installed {@code rabbitmq-server}, with its own node
 * name, free ports, Erlang cookie, configuration and directory under {@code java.io.tmpdir}. The
 * machine's default node (5672) is never touched.
 *
 * <p>{@link #close()} stops the node and deletes its directory; a JVM shutdown hook does the same
 * if the test never gets there, and a node left behind by a JVM that was killed is stopped by the
 * next {@link #start}. Without RabbitMQ installed, {@link #start} fails and says so: never a skip.
 */
public final class PrivateBroker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PrivateBroker.class);

  private static final String DIR_PREFIX = "conveyor-rabbit-";

  /**
   * A cold start takes 5-12 s on a 2-CPU machine, and over 30 s when other builds load it; far more
   * means something is wrong.
   */
  private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(120);

  /** rabbitmqctl starts a VM of its own: 1-2 s, and a stop_app took over a minute under load. */
  private static final Duration CTL_TIMEOUT = Duration.ofSeconds(150);

  private final Path dir;
  private final Path nodeDir;
  private final String node;
  private final int amqpPort;
  private final int managementPort;
  private final Process process;
  private final Path output;
  private final List<TestBroker> namespaces = new ArrayList<>();
  private final Thread shutdownHook;
  private boolean closed;

  private PrivateBroker(
      Path dir, String node, int amqpPort, int managementPort, Process process, Path output) {
    this.dir = dir;
    this.nodeDir = dir.resolve("node");
    this.node = node;
    this.amqpPort = amqpPort;
    this.managementPort = managementPort;
    this.process = process;
    this.output = output;
    this.shutdownHook = new Thread(this::stopNode, "conveyor-private-broker-stop");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
  }

  /** A node without the management plugin; returns once it accepts AMQP connections. */
  public static PrivateBroker start() {
    return start(false);
  }

  /**
   * @param management whether to run the management plugin (on a port of its own, {@link
   *     #managementPort()})
   */
  public static PrivateBroker start(boolean management) {
    reapOrphans();
    Path script = ProgramProcess.repo().resolve("bin/lib/rabbit-node");
    String id = UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    String node = "conveyor-test-" + id + "@localhost";
    Path dir;
    try {
      dir = Files.createTempDirectory(DIR_PREFIX + ProcessHandle.current().pid() + "-" + id + "-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    int amqp = freePort();
    int dist = freePort();
    int mgmt = management ? freePort() : -1;
    List<String> cmd =
        new ArrayList<>(
            List.of(
                script.toString(),
                "start",
                dir.resolve("node").toString(),
                node,
                Integer.toString(amqp),
                Integer.toString(dist)));
    if (management) {
      cmd.add(Integer.toString(mgmt));
    }
    Path out = dir.resolve("server.out");
    Process process;
    try {
      process =
          new ProcessBuilder(cmd)
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
    } catch (IOException e) {
      deleteTree(dir);
      throw new IllegalStateException("cannot run " + script + ": " + e.getMessage(), e);
    }
    PrivateBroker broker = new PrivateBroker(dir, node, amqp, mgmt, process, out);
    try {
      broker.awaitAmqp(BOOT_TIMEOUT);
    } catch (RuntimeException e) {
      broker.close();
      throw e;
    }
    log.info("private RabbitMQ node {} on 127.0.0.1:{}", node, amqp);
    return broker;
  }

  /** The node's name, e.g. {@code conveyor-test-1a2b3c4d5e@localhost}. */
  public String node() {
    return node;
  }

  public URI uri() {
    return URI.create("amqp://guest:guest@127.0.0.1:" + amqpPort + "/");
  }

  public int amqpPort() {
    return amqpPort;
  }

  /** Where the node keeps its data, logs and configuration; deleted by {@link #close()}. */
  public Path directory() {
    return dir;
  }

  /** The management API's port, or -1 when the plugin is off. */
  public int managementPort() {
    return managementPort;
  }

  /**
   * A namespace of a test on this node. It is not deleted afterwards (the whole node is), but what
   * it owns (program processes, connections) is closed before the node stops.
   */
  public synchronized TestBroker testBroker() {
    TestBroker broker = new TestBroker(uri(), false);
    namespaces.add(broker);
    return broker;
  }

  /** {@code rabbitmqctl stop_app}: every connection is closed, the node stays up. */
  public void stopApp() {
    ctl("stop_app");
  }

  /** {@code rabbitmqctl start_app}; returns once the node accepts AMQP connections again. */
  public void startApp() {
    ctl("start_app");
    awaitAmqp(BOOT_TIMEOUT);
  }

  /**
   * {@code rabbitmqctl set_vm_memory_high_watermark}: a tiny fraction raises the memory alarm,
   * which blocks every connection that publishes; 0.4 (RabbitMQ's default) clears it.
   */
  public void setMemoryWatermark(double fraction) {
    ctl("set_vm_memory_high_watermark", BigDecimal.valueOf(fraction).toPlainString());
  }

  /** Whether the node has any resource alarm in force (memory or disk). */
  public boolean alarmed() {
    String out = ctl("eval", "rabbit_alarm:get_alarms().").strip();
    return !out.equals("[]");
  }

  /**
   * Ready and unacknowledged messages of a queue, from {@code rabbitmqctl list_queues}: a quorum
   * queue's counts lag up to a few seconds behind, so wait for the figures you expect.
   *
   * @param queue the queue's broker name
   * @throws IllegalStateException if there is no such queue
   */
  public QueueCounts queue(String queue) {
    JsonNode list =
        json(
            ctl(
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
    throw new IllegalStateException("no queue " + queue + " on " + node + ": " + list);
  }

  /**
   * The state of each client connection ({@code running}, {@code blocking}, {@code blocked}, …), by
   * the name the client gave it (e.g. {@code conveyor-worker w1}).
   */
  public Map<String, String> connectionStates() {
    JsonNode list =
        json(ctl("list_connections", "-q", "--formatter", "json", "client_properties", "state"));
    Map<String, String> out = new LinkedHashMap<>();
    for (JsonNode c : list) {
      out.put(connectionName(c.path("client_properties")), c.path("state").asText());
    }
    return out;
  }

  /** client_properties comes as a list of [key, type, value] triples. */
  private static String connectionName(JsonNode properties) {
    for (JsonNode p : properties) {
      if (p.isArray() && p.size() == 3 && "connection_name".equals(p.get(0).asText())) {
        return p.get(2).asText();
      }
    }
    return "";
  }

  /**
   * Deletes the node's one server-named queue ({@code amq.gen-*}) with {@code rabbitmqctl}, as an
   * operator on the node can even while another connection holds it exclusively (the management API
   * refuses to).
   *
   * @return its name
   * @throws IllegalStateException unless there is exactly one such queue
   */
  public String deleteTheServerNamedQueue() {
    List<String> queues =
        ctl("list_queues", "-q", "name").lines().filter(q -> q.startsWith("amq.gen-")).toList();
    if (queues.size() != 1) {
      throw new IllegalStateException("not one amq.gen-* queue: " + queues);
    }
    ctl("delete_queue", queues.getFirst());
    return queues.getFirst();
  }

  /**
   * Runs {@code rabbitmqctl ARGS} against this node.
   *
   * @return its output
   * @throws IllegalStateException with the output if it fails
   */
  public String ctl(String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                ProgramProcess.repo().resolve("bin/lib/rabbit-node").toString(),
                "ctl",
                nodeDir.toString()));
    cmd.addAll(List.of(args));
    try {
      Path out = Files.createTempFile(dir, "ctl-", ".out");
      try {
        Process p =
            new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        if (!p.waitFor(CTL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
          p.waitFor(5, TimeUnit.SECONDS);
          throw new IllegalStateException(
              "rabbitmqctl "
                  + String.join(" ", args)
                  + " did not end within "
                  + CTL_TIMEOUT
                  + "; its output:\n"
                  + tail(Files.readString(out, StandardCharsets.UTF_8))
                  + "\nthe node's log:\n"
                  + tail(log()));
        }
        String text = Files.readString(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
          throw new IllegalStateException(
              "rabbitmqctl "
                  + String.join(" ", args)
                  + " on "
                  + node
                  + " exited "
                  + p.exitValue()
                  + ":\n"
                  + text);
        }
        return text;
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

  /** The node's log so far, for a failing test's message. */
  public String log() {
    try (Stream<Path> files = Files.list(nodeDir.resolve("log"))) {
      StringBuilder sb = new StringBuilder();
      for (Path f : files.filter(f -> f.toString().endsWith(".log")).toList()) {
        sb.append(Files.readString(f, StandardCharsets.UTF_8));
      }
      return sb.toString();
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Stops the node (after closing what its namespaces own) and deletes its directory. */
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
        log.warn("closing a namespace on {}: {}", node, e.toString());
      }
    }
    stopNode();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs (or ran) anyway
    }
  }

  private void awaitAmqp(Duration timeout) {
    ConnectionFactory factory = new ConnectionFactory();
    factory.setHost("127.0.0.1");
    factory.setPort(amqpPort);
    factory.setConnectionTimeout(1000);
    factory.setHandshakeTimeout(2000);
    factory.setAutomaticRecoveryEnabled(false);
    try {
      Awaitility.await("RabbitMQ node " + node + " accepting AMQP on port " + amqpPort)
          .atMost(timeout)
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(200))
          .until(
              () -> {
                if (!process.isAlive()) {
                  throw new IllegalStateException(
                      "RabbitMQ node "
                          + node
                          + " exited with "
                          + process.exitValue()
                          + " before it accepted connections:\n"
                          + tail(output()));
                }
                try (var c = factory.newConnection("conveyor-test-probe")) {
                  return c.isOpen();
                } catch (IOException | java.util.concurrent.TimeoutException e) {
                  return false;
                }
              });
    } catch (ConditionTimeoutException e) {
      throw new IllegalStateException(
          "RabbitMQ node "
              + node
              + " did not accept AMQP connections within "
              + timeout
              + "; its output:\n"
              + tail(output())
              + "\nits log:\n"
              + tail(log()),
          e);
    }
  }

  private String output() {
    try {
      return Files.readString(output, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no output: " + e + ")";
    }
  }

  private static String tail(String text) {
    return text.length() <= 4000 ? text : "…" + text.substring(text.length() - 4000);
  }

  /**
   * SIGTERM to the Erlang VM, which stops RabbitMQ in a second or two; the whole process tree is
   * killed if it has not ended within 15 s. Then the directory goes.
   */
  private void stopNode() {
    try {
      beamPid(nodeDir).flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroy);
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        log.warn("RabbitMQ node {} did not stop within 15 s; killing it", node);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      deleteTree(dir);
    }
  }

  private static java.util.Optional<Long> beamPid(Path nodeDir) {
    try {
      return java.util.Optional.of(
          Long.parseLong(Files.readString(nodeDir.resolve("pid"), StandardCharsets.UTF_8).strip()));
    } catch (IOException | NumberFormatException e) {
      return java.util.Optional.empty();
    }
  }

  /**
   * Stops nodes whose test JVM died without stopping them (SIGKILL, a crashed fork), and deletes
   * their directories. A node is recognised by its directory (named after the JVM's pid) and by its
   * VM's environment, which names that directory, so a reused pid is never killed.
   */
  private static void reapOrphans() {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    try (Stream<Path> dirs = Files.list(tmp)) {
      for (Path d : dirs.filter(p -> p.getFileName().toString().startsWith(DIR_PREFIX)).toList()) {
        String[] parts = d.getFileName().toString().substring(DIR_PREFIX.length()).split("-");
        long owner;
        try {
          owner = Long.parseLong(parts[0]);
        } catch (NumberFormatException e) {
          continue;
        }
        if (ProcessHandle.of(owner).map(ProcessHandle::isAlive).orElse(false)) {
          continue;
        }
        Path nodeDir = d.resolve("node");
        beamPid(nodeDir)
            .flatMap(ProcessHandle::of)
            .filter(h -> environmentNames(h.pid(), nodeDir))
            .ifPresent(
                h -> {
                  log.warn("stopping RabbitMQ node {} left behind by JVM {}", h.pid(), owner);
                  h.destroyForcibly();
                  h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(x -> h).join();
                });
        deleteTree(d);
      }
    } catch (IOException e) {
      log.warn("could not look for orphaned RabbitMQ nodes in {}: {}", tmp, e.toString());
    }
  }

  private static boolean environmentNames(long pid, Path nodeDir) {
    try {
      String env =
          new String(
              Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ")),
              StandardCharsets.UTF_8);
      return env.contains("RABBITMQ_MNESIA_BASE=" + nodeDir.resolve("mnesia"));
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      log.warn("could not delete {}: {}", dir, e.toString());
    }
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static JsonNode json(String text) {
    try {
      return Wire.JSON.readTree(text);
    } catch (IOException e) {
      throw new IllegalStateException("rabbitmqctl printed no JSON: " + text, e);
    }
  }

  @Override
  public String toString() {
    return node + " (127.0.0.1:" + amqpPort + ")";
  }
}
