package dev.conveyor.protocol.broker;

import com.rabbitmq.client.Address;
import com.rabbitmq.client.AddressResolver;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.MetricsCollector;
import com.rabbitmq.client.impl.recovery.RecordedBinding;
import com.rabbitmq.client.impl.recovery.RecordedConsumer;
import com.rabbitmq.client.impl.recovery.RecordedExchange;
import com.rabbitmq.client.impl.recovery.RecordedQueue;
import com.rabbitmq.client.impl.recovery.TopologyRecoveryFilter;
import java.io.IOException;
import java.net.URI;
import java.security.GeneralSecurityException;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import javax.net.ssl.SSLContext;

/**
 * Opens connections with amqp-client's automatic recovery, failover across the configured URIs and
 * verified TLS for {@code amqps://}. The URIs are tried in the order given, on the first connection
 * and on every recovery (amqp-client would shuffle them): give each program of a cluster's clients
 * the list rotated to spread them across its nodes.
 */
public final class BrokerConnector {

  private final BrokerSettings settings;
  private final ConnectionFactory factory;
  private final List<Address> addresses;

  public BrokerConnector(BrokerSettings settings) {
    this(settings, null);
  }

  public BrokerConnector(BrokerSettings settings, MetricsCollector metrics) {
    this.settings = settings;
    URI first = settings.uris().getFirst();
    this.factory = WriteBatch.connectionFactory();
    try {
      factory.setUri(first);
      String path = first.getRawPath();
      if (path == null || path.isEmpty() || path.equals("/")) {
        // amqp-client reads "amqp://host/" as the empty vhost; users mean the default one.
        factory.setVirtualHost("/");
      }
      if ("amqps".equals(first.getScheme())) {
        // setUri trusts every certificate for amqps; replace that with the JVM's trust store.
        factory.useSslProtocol(SSLContext.getDefault());
        factory.enableHostnameVerification();
      }
    } catch (GeneralSecurityException | java.net.URISyntaxException e) {
      throw new IllegalArgumentException(
          "invalid broker URI " + Redaction.mask(first.toString()) + ": " + e.getMessage(), e);
    }
    factory.setAutomaticRecoveryEnabled(true);
    factory.setTopologyRecoveryEnabled(true);
    factory.setTopologyRecoveryFilter(new OnOpenChannels(q -> false));
    factory.setExceptionHandler(new RecoveryFailures());
    factory.setNetworkRecoveryInterval(1000);
    factory.setRequestedHeartbeat(10);
    factory.setConnectionTimeout(5000);
    java.util.concurrent.atomic.AtomicInteger threads =
        new java.util.concurrent.atomic.AtomicInteger();
    factory.setThreadFactory(
        r -> {
          Thread t = new Thread(r, "conveyor-amqp-" + threads.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    if (metrics != null) {
      factory.setMetricsCollector(metrics);
    }
    this.addresses =
        settings.uris().stream()
            .map(
                u ->
                    new Address(
                        u.getHost(),
                        u.getPort() > 0
                            ? u.getPort()
                            : ("amqps".equals(u.getScheme())
                                ? ConnectionFactory.DEFAULT_AMQP_OVER_SSL_PORT
                                : ConnectionFactory.DEFAULT_AMQP_PORT)))
            .toList();
  }

  public BrokerSettings settings() {
    return settings;
  }

  /**
   * Leaves the consumers of the queues named here out of amqp-client's recovery: their owner
   * consumes again once the recovery is over (a worker takes tasks again only after it has heard
   * the commands published while it was away).
   */
  public BrokerConnector recoveringConsumersExcept(Predicate<String> queues) {
    factory.setTopologyRecoveryFilter(new OnOpenChannels(queues));
    return this;
  }

  /**
   * Connects, naming the connection so operators can tell programs apart in the management UI.
   *
   * @throws BrokerUnreachableException with a one-line, password-free reason
   */
  public Connection connect(String connectionName) throws BrokerUnreachableException {
    return connect(connectionName, null);
  }

  /**
   * {@link #connect(String)}, with the consumer callbacks run on {@code dispatch} (owned by the
   * caller, who shuts it down after closing the connection) instead of amqp-client's own pool; null
   * for that pool.
   */
  public Connection connect(String connectionName, ExecutorService dispatch)
      throws BrokerUnreachableException {
    try {
      return factory.newConnection(dispatch, new InOrder(addresses), connectionName);
    } catch (IOException | TimeoutException e) {
      throw new BrokerUnreachableException(
          "cannot connect to broker " + settings.describe() + ": " + Redaction.mask(describe(e)),
          e);
    }
  }

  /**
   * Recovers what was declared on a channel that is open again: amqp-client recovers every channel
   * the program has not closed before the topology, and would declare on a closed one in vain, with
   * an error and its stack trace at every recovery (the exchanges a program declares at start on a
   * channel it then closes, which are durable and still there).
   */
  static final class OnOpenChannels implements TopologyRecoveryFilter {
    private final Predicate<String> consumedByOwner;

    /**
     * @param consumedByOwner the queues whose consumers are not recovered
     */
    OnOpenChannels(Predicate<String> consumedByOwner) {
      this.consumedByOwner = consumedByOwner;
    }

    @Override
    public boolean filterExchange(RecordedExchange exchange) {
      return exchange.getChannel().isOpen();
    }

    @Override
    public boolean filterQueue(RecordedQueue queue) {
      return queue.getChannel().isOpen();
    }

    @Override
    public boolean filterBinding(RecordedBinding binding) {
      return binding.getChannel().isOpen();
    }

    @Override
    public boolean filterConsumer(RecordedConsumer consumer) {
      return consumer.getChannel().isOpen() && !consumedByOwner.test(consumer.getQueue());
    }
  }

  /** The addresses in the order configured: the first is the preferred node, the rest failover. */
  private static final class InOrder implements AddressResolver {
    private final List<Address> addresses;

    InOrder(List<Address> addresses) {
      this.addresses = addresses;
    }

    @Override
    public List<Address> getAddresses() {
      return addresses;
    }

    @Override
    public List<Address> maybeShuffle(List<Address> input) {
      return input;
    }
  }

  private static String describe(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String msg = root.getMessage();
    if (msg == null || msg.isBlank()) {
      msg = root.getClass().getSimpleName();
    }
    if (msg.contains("ACCESS_REFUSED")
        || e instanceof com.rabbitmq.client.AuthenticationFailureException) {
      return "access refused (check user, password and vhost)";
    }
    return msg.replace('\n', ' ');
  }
}
