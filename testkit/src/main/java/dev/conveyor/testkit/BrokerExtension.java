package dev.conveyor.testkit;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.RabbitMQContainer;

/**
 * Gives each test a {@link TestBroker}: a real RabbitMQ, and a namespace of its own that is deleted
 * afterwards, because the broker outlives test runs.
 *
 * <p>The broker is, in order: {@code CONVEYOR_TEST_URI}; one already listening on localhost:5672; a
 * Testcontainers RabbitMQ where Docker runs; otherwise the test fails and says how to provide one.
 * It never skips silently.
 */
public final class BrokerExtension implements ParameterResolver, AfterEachCallback {

  private static final ExtensionContext.Namespace STORE =
      ExtensionContext.Namespace.create(BrokerExtension.class);
  private static volatile URI brokerUri;
  private static RabbitMQContainer container;

  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
    return p.getParameter().getType() == TestBroker.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext e) {
    return e.getStore(STORE)
        .getOrComputeIfAbsent("broker", k -> new TestBroker(uri()), TestBroker.class);
  }

  @Override
  public void afterEach(ExtensionContext e) {
    TestBroker broker = e.getStore(STORE).remove("broker", TestBroker.class);
    if (broker != null) {
      broker.close();
    }
  }

  /** The broker for this JVM, found once. */
  public static synchronized URI uri() {
    if (brokerUri == null) {
      brokerUri = find();
    }
    return brokerUri;
  }

  private static URI find() {
    String env = System.getenv("CONVEYOR_TEST_URI");
    if (env != null && !env.isBlank()) {
      return URI.create(env.trim());
    }
    if (listening("127.0.0.1", 5672)) {
      return URI.create("amqp://guest:guest@127.0.0.1:5672/");
    }
    if (dockerAvailable()) {
      container = new RabbitMQContainer("rabbitmq:3.13-management");
      container.start();
      Runtime.getRuntime().addShutdownHook(new Thread(container::stop, "testcontainers-stop"));
      return URI.create(container.getAmqpUrl().replace("amqp://", "amqp://guest:guest@") + "/");
    }
    throw new ParameterResolutionException(
        "No RabbitMQ broker for the tests: set CONVEYOR_TEST_URI=amqp://user:pass@host:5672/, "
            + "or start one on localhost:5672 (e.g. 'rabbitmq-server -detached'), "
            + "or run a Docker engine so that Testcontainers can start one.");
  }

  private static boolean listening(String host, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean dockerAvailable() {
    try {
      return DockerClientFactory.instance().isDockerAvailable();
    } catch (RuntimeException e) {
      return false;
    }
  }
}
