package dev.conveyor.testkit;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A vhost of a test's own on the shared broker, for what reaches beyond a namespace (a vhost's
 * limits), created through the management API. Closing it closes what its namespaces own (workers,
 * connections), then deletes the vhost with everything in it.
 */
public final class PrivateVhost implements AutoCloseable {
  private final BrokerAdmin admin;
  private final String name;
  private final URI uri;
  private final List<TestBroker> namespaces = new ArrayList<>();

  private PrivateVhost(BrokerAdmin admin, String name) {
    this.admin = admin;
    this.name = name;
    this.uri = admin.createVhost(name);
  }

  /**
   * @param shared the shared broker's AMQP URI, whose user gets every permission on the new vhost
   */
  public static PrivateVhost create(URI shared) {
    return new PrivateVhost(
        new BrokerAdmin(shared),
        "conveyor-test-" + UUID.randomUUID().toString().replace("-", "").substring(0, 12));
  }

  /** A namespace of a test in this vhost; what it owns is closed before the vhost goes. */
  public synchronized TestBroker testBroker() {
    TestBroker broker = new TestBroker(uri, false);
    namespaces.add(broker);
    return broker;
  }

  /** {@link BrokerAdmin#limitQueues} on this vhost. */
  public void limitQueues(int max) {
    admin.limitQueues(name, max);
  }

  /** {@link BrokerAdmin#limitConnections} on this vhost. */
  public void limitConnections(int max) {
    admin.limitConnections(name, max);
  }

  @Override
  public synchronized void close() {
    namespaces.forEach(TestBroker::close);
    admin.deleteVhost(name);
  }
}
