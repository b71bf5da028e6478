package dev.conveyor.bench;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.WorkerConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;

/**
 * One benchmark's own corner of the broker: a random namespace {@code bench-<label>-<hex>}, a
 * connection, a confirming publisher, and the clean-up that deletes every queue and exchange of the
 * namespace at the end. Publishing is raw, as any AMQP 0-9-1 client following docs/protocol.md.
 */
final class Harness implements AutoCloseable {

  static final String QUEUE = "default";
  private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");

  private final BrokerSettings settings;
  private final Topology topology;
  private final Connection connection;
  private final Channel publisher;

  private Harness(BrokerSettings settings, Connection connection) throws IOException {
    this.settings = settings;
    this.topology = new Topology(settings.names());
    this.connection = connection;
    this.publisher = connection.createChannel();
    topology.declareCore(publisher);
    topology.declareTaskQueue(publisher, QUEUE);
    publisher.confirmSelect();
  }

  /** Connects to the (loopback) broker under a fresh namespace and declares its task queue. */
  static Harness open(URI uri, String label) throws IOException, BrokerUnreachableException {
    checkLoopback(uri);
    String ns =
        "bench-" + label + "-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    BrokerSettings settings = new BrokerSettings(List.of(uri), ns, Optional.empty());
    Connection connection = new BrokerConnector(settings).connect("conveyor-bench " + label);
    progress("namespace %s on %s", ns, settings.describe());
    return new Harness(settings, connection);
  }

  /** The benchmarks measure this machine: they refuse to send traffic anywhere else. */
  static void checkLoopback(URI uri) throws IOException {
    if (uri.getHost() == null || !InetAddress.getByName(uri.getHost()).isLoopbackAddress()) {
      throw new IllegalArgumentException(
          "the benchmarks only talk to a broker on the loopback interface, not " + uri.getHost());
    }
  }

  /** The broker's version, as it announces it when we connect. */
  String brokerVersion() {
    Object v = connection.getServerProperties().get("version");
    return v == null ? "unknown" : v.toString();
  }

  BrokerSettings settings() {
    return settings;
  }

  Topology topology() {
    return topology;
  }

  Names names() {
    return settings.names();
  }

  Connection connection() {
    return connection;
  }

  /** The full name of the benchmark's task queue ({@code ns.q.default}). */
  String queue() {
    return names().taskQueue(QUEUE);
  }

  /** Worker settings for an in-process worker of this namespace that never ends the JVM. */
  WorkerConfig workerConfig(String name) {
    return WorkerConfig.defaults(settings)
        .withName(name)
        .withExit(code -> progress("worker %s asked to exit with %d (ignored)", name, code));
  }

  /**
   * Publishes tasks with publisher confirms, {@code message_id} = id, persistent, JSON; waits for
   * the confirms every 1000 messages and at the end.
   */
  void publishTasks(List<String> ids, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    int i = 0;
    for (String id : ids) {
      AMQP.BasicProperties props =
          new AMQP.BasicProperties.Builder()
              .messageId(id)
              .contentType(Wire.CONTENT_TYPE)
              .deliveryMode(2)
              .build();
      publisher.basicPublish(names().tasksExchange(), QUEUE, props, bytes);
      if (++i % 1000 == 0) {
        awaitConfirms();
      }
    }
    awaitConfirms();
  }

  /**
   * Publishes a control message to {@code ns.control} and returns {@link System#nanoTime} taken
   * just before {@code basicPublish}. Waits for the broker's confirm afterwards (events are timed
   * on the subscription's thread, so the wait does not count).
   */
  long publishControl(ControlMessage message) throws IOException {
    byte[] body = Wire.encode(message);
    AMQP.BasicProperties props =
        new AMQP.BasicProperties.Builder().contentType(Wire.CONTENT_TYPE).build();
    long sent = System.nanoTime();
    publisher.basicPublish(names().controlExchange(), Topology.routingKey(message), props, body);
    awaitConfirms();
    return sent;
  }

  private void awaitConfirms() throws IOException {
    try {
      publisher.waitForConfirmsOrDie(60_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for confirms", e);
    } catch (TimeoutException e) {
      throw new IOException("the broker did not confirm within 60 s", e);
    }
  }

  /** Messages ready in the task queue (not counting unacked ones). */
  long depth() throws IOException {
    return publisher.queueDeclarePassive(queue()).getMessageCount();
  }

  void purge() throws IOException {
    publisher.queuePurge(queue());
  }

  /**
   * Deletes every queue and exchange of the namespace, then closes the connection. A deletion the
   * broker answers by closing the connection (it has answered the deletion of a quorum queue with
   * INTERNAL_ERROR, a connection-level error) is tried once more, and the rest go on, on a
   * connection of their own.
   */
  @Override
  public void close() {
    Names n = names();
    List<String> queues =
        List.of(
            n.taskQueue(QUEUE), n.retryQueue(QUEUE), n.deadQueue(), n.controlLog(), n.workers());
    List<String> exchanges =
        List.of(
            n.tasksExchange(),
            n.deadExchange(),
            n.controlLogged(),
            n.controlExchange(),
            n.eventsExchange());
    CleanUp cleanUp = new CleanUp();
    int left = 0;
    for (String q : queues) {
      left += cleanUp.delete("queue " + q, ch -> ch.queueDelete(q));
    }
    for (String x : exchanges) {
      left += cleanUp.delete("exchange " + x, ch -> ch.exchangeDelete(x));
    }
    cleanUp.close();
    if (left == 0) {
      progress("deleted namespace %s", n.namespace());
    } else {
      progress("left %d queue(s) and exchange(s) of namespace %s", left, n.namespace());
    }
  }

  private interface Deletion {
    void on(Channel ch) throws IOException;
  }

  /** The deletions, on the harness's connection until the broker closes it, then on a new one. */
  private final class CleanUp {
    private Connection on = connection;

    /**
     * One deletion, on a channel of its own (an error closes the channel it happened on).
     *
     * @return 1 if it is not deleted, else 0
     */
    int delete(String what, Deletion deletion) {
      for (int attempt = 1; ; attempt++) {
        try (Channel ch = on.createChannel()) {
          deletion.on(ch);
          return 0;
        } catch (IOException | TimeoutException | RuntimeException e) {
          if (on.isOpen() || attempt == 2) {
            progress("could not delete %s: %s", what, e.toString());
            return 1;
          }
          progress("the broker closed the connection deleting %s; again on a new one", what);
          try {
            on = new BrokerConnector(settings).connect("conveyor-bench clean-up");
          } catch (BrokerUnreachableException unreachable) {
            progress("could not delete %s: %s", what, unreachable.getMessage());
            return 1;
          }
        }
      }
    }

    void close() {
      if (on != connection) {
        connection.abort(); // the broker closed it: this ends amqp-client's recovery of it
      }
      try {
        on.close(5000);
      } catch (IOException | RuntimeException e) {
        progress("closing the connection: %s", e.toString());
      }
    }
  }

  /** A progress line on stderr; stdout carries only the results. */
  static void progress(String format, Object... args) {
    System.err.println(
        "[bench " + LocalTime.now().format(CLOCK) + "] " + String.format(format, args));
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
