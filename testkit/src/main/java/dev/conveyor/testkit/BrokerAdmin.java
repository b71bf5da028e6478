package dev.conveyor.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;

/**
 * Does to the broker what an operator or a network fault would: closes connections from the
 * broker's side, through the management API (port 15672, the AMQP URI's credentials).
 */
public final class BrokerAdmin {

  private final URI amqp;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

  public BrokerAdmin(URI amqp) {
    this.amqp = amqp;
  }

  /**
   * Closes every connection whose client-provided name contains {@code fragment}.
   *
   * @return how many were closed
   */
  public int closeConnections(String fragment) {
    int closed = 0;
    try {
      JsonNode list =
          Wire.JSON.readTree(call("GET", "/api/connections?columns=name,client_properties"));
      for (JsonNode c : list) {
        String clientName = c.path("client_properties").path("connection_name").asText("");
        if (clientName.contains(fragment)) {
          String name = URLEncoder.encode(c.path("name").asText(), StandardCharsets.UTF_8);
          call("DELETE", "/api/connections/" + name.replace("+", "%20"));
          closed++;
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return closed;
  }

  private String call(String method, String path) {
    String[] userInfo =
        (amqp.getUserInfo() == null ? "guest:guest" : amqp.getUserInfo()).split(":", 2);
    String auth =
        Base64.getEncoder()
            .encodeToString((userInfo[0] + ":" + userInfo[1]).getBytes(StandardCharsets.UTF_8));
    HttpRequest req =
        HttpRequest.newBuilder(URI.create("http://" + amqp.getHost() + ":15672" + path))
            .timeout(Duration.ofSeconds(10))
            .header("Authorization", "Basic " + auth)
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build();
    try {
      HttpResponse<String> res = http.send(req, HttpResponse.BodyHandlers.ofString());
      if (res.statusCode() >= 300) {
        throw new IllegalStateException(
            method + " " + path + " -> " + res.statusCode() + " " + res.body());
      }
      return res.body();
    } catch (IOException e) {
      throw new IllegalStateException(
          "the management API is needed to close connections from the broker side"
              + " (rabbitmq-plugins enable rabbitmq_management): "
              + e,
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
