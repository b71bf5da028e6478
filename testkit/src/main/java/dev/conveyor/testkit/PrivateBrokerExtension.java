package dev.conveyor.testkit;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Gives each test a {@link PrivateBroker} of its own, started before the test and stopped (its
 * directory deleted) after it, whether it passed or not. For tests that stop, restart or alarm the
 * broker; the others share the default one through {@link BrokerExtension}.
 */
public final class PrivateBrokerExtension implements ParameterResolver, AfterEachCallback {

  private static final ExtensionContext.Namespace STORE =
      ExtensionContext.Namespace.create(PrivateBrokerExtension.class);

  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
    return p.getParameter().getType() == PrivateBroker.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext e) {
    return e.getStore(STORE)
        .getOrComputeIfAbsent("node", k -> PrivateBroker.start(), PrivateBroker.class);
  }

  @Override
  public void afterEach(ExtensionContext e) {
    PrivateBroker node = e.getStore(STORE).remove("node", PrivateBroker.class);
    if (node != null) {
      node.close();
    }
  }
}
