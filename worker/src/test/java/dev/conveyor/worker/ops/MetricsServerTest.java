package dev.conveyor.worker.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conveyor.protocol.UsageException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Where {@code /metrics} and {@code /health} listen, and what a bad address or port says. */
class MetricsServerTest {

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @Test
  void aBusyPortIsAUsageErrorNamingTheFlagAndThePort() throws Exception {
    try (ServerSocket taken = new ServerSocket()) {
      taken.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      int port = taken.getLocalPort();

      assertThatThrownBy(() -> MetricsServer.bind("127.0.0.1", port))
          .isInstanceOf(UsageException.class)
          .hasMessage("--metrics-port " + port + " is already in use on 127.0.0.1; choose another");
    }
  }

  @Test
  void anAddressOfAnotherMachineIsAUsageErrorNamingTheFlag() {
    // TEST-NET-2 (RFC 5737): on no interface of this machine.
    assertThatThrownBy(() -> MetricsServer.bind("198.51.100.7", 0))
        .isInstanceOf(UsageException.class)
        .hasMessageStartingWith("--metrics-bind 198.51.100.7: cannot listen there (");
  }

  @Test
  void anUnknownHostIsAUsageErrorNamingTheFlag() {
    assertThatThrownBy(() -> MetricsServer.bind("no-such-host.invalid", 0))
        .isInstanceOf(UsageException.class)
        .hasMessage("--metrics-bind: unknown address no-such-host.invalid");
  }

  @Test
  void itServesOnceStartedAndABoundServerThatNeverStartedClosesAtOnce() throws Exception {
    MetricsServer never = MetricsServer.bind("127.0.0.1", 0);
    never.close();

    try (MetricsServer server = MetricsServer.bind("127.0.0.1", 0)) {
      server.start(() -> "m 1\n", () -> true, () -> "{\"status\":\"ready\"}");
      HttpResponse<String> health =
          HTTP.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/health"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(health.statusCode()).isEqualTo(200);
      assertThat(health.body()).isEqualTo("{\"status\":\"ready\"}");
    }
  }
}
