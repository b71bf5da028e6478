package dev.conveyor.testkit;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives each test a three-node {@link PrivateCluster} of its own ({@code bin/cluster up} in a
 * directory and on ports of its own), stopped and deleted after the test whether it passed or not.
 * For tests that kill or stop broker nodes; nothing else should pay for a cluster's start (about a
 * minute here).
 */
public final class PrivateClusterExtension implements ParameterResolver, AfterEachCallback {

  /** Nodes of the cluster each test gets. */
  public static final int NODES = 3;

  private static final ExtensionContext.Namespace STORE =
      ExtensionContext.Namespace.create(PrivateClusterExtension.class);

  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
    return p.getParameter().getType() == PrivateCluster.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext e) {
    return e.getStore(STORE)
        .getOrComputeIfAbsent("cluster", k -> PrivateCluster.start(NODES), PrivateCluster.class);
  }

  @Override
  public void afterEach(ExtensionContext e) {
    PrivateCluster cluster = e.getStore(STORE).remove("cluster", PrivateCluster.class);
    if (cluster != null) {
      cluster.close();
    }
  }
}
