package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code /metrics} and {@code /health} tell whoever asks what runs where: by default only this
 * machine may ask; {@code --metrics-bind} opens them to a network (compose does, for Prometheus).
 */
@ExtendWith(BrokerExtension.class)
class MetricsBindIT {

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @Test
  void byDefaultOnlyLoopbackIsServed(TestBroker broker) throws Exception {
    InetAddress external = externalAddress();
    Worker w =
        broker.own(
            Worker.start(
                WorkerConfig.defaults(broker.settings()).withName("w1").withMetricsPort(0)));

    assertThat(status("127.0.0.1", w.metricsPort())).isEqualTo(200);
    assertThatThrownBy(() -> status(external.getHostAddress(), w.metricsPort()))
        .isInstanceOf(ConnectException.class);
  }

  @Test
  void metricsBindOpensThemToOtherInterfaces(TestBroker broker) throws Exception {
    InetAddress external = externalAddress();
    Worker w =
        broker.own(
            Worker.start(
                WorkerConfig.defaults(broker.settings())
                    .withName("w1")
                    .withMetricsPort(0)
                    .withMetricsBind("0.0.0.0")));

    assertThat(status(external.getHostAddress(), w.metricsPort())).isEqualTo(200);
  }

  private static int status(String host, int port) throws IOException, InterruptedException {
    return HTTP.send(
            HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + "/health")).build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  /** An IPv4 address of this machine that is not loopback; the test needs one. */
  private static InetAddress externalAddress() throws SocketException {
    Optional<InetAddress> found =
        NetworkInterface.networkInterfaces()
            .filter(
                i -> {
                  try {
                    return i.isUp() && !i.isLoopback();
                  } catch (SocketException e) {
                    return false;
                  }
                })
            .flatMap(NetworkInterface::inetAddresses)
            .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress())
            .findFirst();
    assumeTrue(found.isPresent(), "needs a non-loopback IPv4 interface");
    return found.get();
  }
}
