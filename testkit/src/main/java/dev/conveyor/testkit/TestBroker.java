package dev.conveyor.testkit;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Permissions;
import dev.conveyor.protocol.topology.Topology;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeoutException;

/** A real broker seen through a namespace that belongs to one test. */
public final class TestBroker implements AutoCloseable {

  private final List<URI> uris;
  private final String namespace;
  private final Set<String> queues = new LinkedHashSet<>(List.of("default"));
  private final Set<String> extraQueues = new LinkedHashSet<>();
  private final List<AutoCloseable> owned = new ArrayList<>();
  private final boolean deleteNamespace;
  private Connection admin;

  TestBroker(URI uri) {
    this(uri, true);
  }

  /**
   * @param deleteNamespace whether {@link #close()} deletes the namespace: not on a {@link
   *     PrivateBroker}, which goes as a whole
   */
  TestBroker(URI uri, boolean deleteNamespace) {
    this(List.of(uri), deleteNamespace);
  }

  /**
   * @param uris the nodes of a cluster, in the order programs and the test's own connections try
   *     them
   */
  TestBroker(List<URI> uris, boolean deleteNamespace) {
    this.uris = List.copyOf(uris);
    this.deleteNamespace = deleteNamespace;
    this.namespace = "t" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  /** The (first) broker URI. */
  public URI uri() {
    return uris.getFirst();
  }

  /** Every URI (more than one on a cluster), in the order they are tried. */
  public List<URI> uris() {
    return uris;
  }

  /** {@link #uris()} comma-separated, as {@code --uri} takes them. */
  public String uriList() {
    return String.join(",", uris.stream().map(URI::toString).toList());
  }

  public String namespace() {
    return namespace;
  }

  public BrokerSettings settings() {
    return new BrokerSettings(uris, namespace, Optional.empty());
  }

  public Names names() {
    return new Names(namespace);
  }

  public Topology topology() {
    return new Topology(names());
  }

  /** Remembers a queue of the test's own (a broker name) so that it is deleted after the test. */
  public synchronized void deleteAfterwards(String queueName) {
    extraQueues.add(queueName);
  }

  /** Remembers a task queue so that it is deleted after the test; returns its broker name. */
  public synchronized String useQueue(String queue) {
    queues.add(queue);
    return names().taskQueue(queue);
  }

  /** Environment for a program process started by the test. */
  public Map<String, String> env() {
    return Map.of("CONVEYOR_URI", uriList(), "CONVEYOR_NAMESPACE", namespace);
  }

  /** A connection the test may use freely; closed after the test. */
  public synchronized Connection connection() {
    if (admin == null || !admin.isOpen()) {
      admin = open("test-admin");
    }
    return admin;
  }

  public synchronized Connection open(String name) {
    try {
      Connection c = new BrokerConnector(settings()).connect(name);
      owned.add(c);
      return c;
    } catch (BrokerUnreachableException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /**
   * A connection as a user of the test's own, with these permissions on the test's vhost, named
   * after the user: the user is deleted after the test (through the management API).
   */
  public synchronized Connection openAs(String user, String password, Permissions permissions) {
    BrokerAdmin admin = new BrokerAdmin(uri());
    URI as = admin.createUser(user, password, permissions);
    own(() -> admin.deleteUser(user));
    try {
      Connection c =
          new BrokerConnector(new BrokerSettings(List.of(as), namespace, Optional.empty()))
              .connect(user);
      owned.add(c);
      return c;
    } catch (BrokerUnreachableException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /** Registers something to close after the test, in reverse order of registration. */
  public synchronized <T extends AutoCloseable> T own(T resource) {
    owned.add(resource);
    return resource;
  }

  /** Ready messages in a queue (broker name). */
  public long messageCount(String queueName) {
    return withChannel(ch -> (long) ch.queueDeclarePassive(queueName).getMessageCount());
  }

  public long consumerCount(String queueName) {
    return withChannel(ch -> (long) ch.queueDeclarePassive(queueName).getConsumerCount());
  }

  /** {@link #consumerCount}, or -1 while the queue does not exist (to wait for it to come back). */
  public long consumerCountOrMissing(String queueName) {
    try {
      return consumerCount(queueName);
    } catch (UncheckedIOException missing) {
      return -1;
    }
  }

  /** Takes every message out of {@code ns.dead}, acking them. */
  public List<GetResponse> drainDead() {
    return withChannel(
        ch -> {
          List<GetResponse> out = new ArrayList<>();
          GetResponse r;
          while ((r = ch.basicGet(names().deadQueue(), true)) != null) {
            out.add(r);
          }
          return out;
        });
  }

  /** A channel operation on a short-lived channel, so a broker-side error does not leak. */
  public <T> T withChannel(ChannelFunction<T> f) {
    try (Channel ch = connection().createChannel()) {
      return f.apply(ch);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (TimeoutException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Publishes {@code body} on the namespace's events exchange, as a worker publishes an event. */
  public void publishEvent(String routingKey, String body) {
    withConfirms(
        ch -> {
          ch.basicPublish(
              names().eventsExchange(),
              routingKey,
              null,
              body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
          return null;
        });
  }

  /**
   * Like {@link #withChannel}, in confirm mode: returns once the broker has confirmed every
   * publish. Without confirms, RabbitMQ 3.10 now and then drops one of two messages that a channel
   * published to a quorum queue just before it was closed (1-2 rounds in 1 000 here; none with one
   * message per channel).
   */
  public <T> T withConfirms(ChannelFunction<T> f) {
    return withChannel(
        ch -> {
          ch.confirmSelect();
          T result = f.apply(ch);
          try {
            ch.waitForConfirmsOrDie(10_000);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for publisher confirms", e);
          } catch (TimeoutException e) {
            throw new IOException("publisher confirms did not come within 10 s", e);
          }
          return result;
        });
  }

  /** A function over a channel that may throw the client's checked exception. */
  @FunctionalInterface
  public interface ChannelFunction<T> {
    T apply(Channel ch) throws IOException;
  }

  @Override
  public synchronized void close() {
    List<AutoCloseable> reversed = new ArrayList<>(owned);
    java.util.Collections.reverse(reversed);
    for (AutoCloseable c : reversed) {
      if (c == admin) {
        continue;
      }
      try {
        c.close();
      } catch (Exception ignored) {
        // best effort: the test is over
      }
    }
    if (deleteNamespace) {
      deleteNamespace();
    }
    try {
      if (admin != null && admin.isOpen()) {
        admin.close();
      }
    } catch (IOException ignored) {
      // nothing left to clean
    }
  }

  private void deleteNamespace() {
    Names n = names();
    List<String> qs = new ArrayList<>();
    for (String q : queues) {
      qs.add(n.taskQueue(q));
      qs.add(n.retryQueue(q));
    }
    qs.add(n.deadQueue());
    qs.add(n.controlLog());
    qs.add(n.workers()); // a quorum queue, which stays when its consumers go
    qs.addAll(extraQueues);
    for (String q : qs) {
      quietly(ch -> ch.queueDelete(q));
    }
    for (String x :
        List.of(
            n.tasksExchange(),
            n.deadExchange(),
            n.controlLogged(),
            n.controlExchange(),
            n.eventsExchange())) {
      quietly(ch -> ch.exchangeDelete(x));
    }
  }

  private void quietly(ChannelFunction<?> f) {
    try {
      withChannel(f);
    } catch (RuntimeException ignored) {
      // already gone
    }
  }
}
