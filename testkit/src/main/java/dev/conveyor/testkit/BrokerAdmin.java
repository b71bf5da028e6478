package dev.conveyor.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.topology.Permissions;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;

/**
 * Does to the broker what an operator or a network fault would: closes connections from the
 * broker's side, through the management API (port 15672, the AMQP URI's credentials).
 */
public final class BrokerAdmin {

  private final URI amqp;
  private final HttpClient http =
      HttpClient.newBuilder()
          // HTTP/1.1: the management server drops the HTTP/2 upgrade of a request with a body.
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(3))
          .build();

  public BrokerAdmin(URI amqp) {
    this.amqp = amqp;
  }

  /**
   * Closes every connection whose client-provided name contains {@code fragment}.
   *
   * @return how many were closed
   */
  public int closeConnections(String fragment) {
    List<String> names = connections(fragment);
    for (String name : names) {
      String encoded = URLEncoder.encode(name, StandardCharsets.UTF_8);
      call("DELETE", "/api/connections/" + encoded.replace("+", "%20"));
    }
    return names.size();
  }

  /**
   * Closes the connections whose client-provided name contains {@code fragment} as the management
   * API lists them, until {@code expected} have been closed (within 60 s): it lists a connection
   * only once its first statistics are in, up to 5 s after it opened.
   */
  public void closeConnectionsOnceListed(String fragment, int expected) {
    int[] closed = {0};
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> (closed[0] += closeConnections(fragment)) >= expected);
  }

  /**
   * How many connections whose client-provided name contains {@code fragment} the management API
   * lists: it lists one only once its first statistics are in (up to 5 s after it opened).
   */
  public int countConnections(String fragment) {
    return connections(fragment).size();
  }

  private List<String> connections(String fragment) {
    List<String> names = new ArrayList<>();
    try {
      JsonNode list =
          Wire.JSON.readTree(call("GET", "/api/connections?columns=name,client_properties"));
      for (JsonNode c : list) {
        String clientName = c.path("client_properties").path("connection_name").asText("");
        if (clientName.contains(fragment)) {
          names.add(c.path("name").asText());
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return names;
  }

  /** Deletes an exchange of the AMQP URI's vhost, as an operator would from the management UI. */
  public void deleteExchange(String exchange) {
    call("DELETE", "/api/exchanges/" + vhostPath() + "/" + encoded(exchange));
  }

  /**
   * The queues bound to an exchange of the AMQP URI's vhost (exchanges bound to it left out), as
   * the management API lists its bindings: at once, unlike its statistics.
   *
   * @throws IllegalStateException if the exchange does not exist
   */
  public List<String> queuesBoundTo(String exchange) {
    try {
      JsonNode bindings =
          Wire.JSON.readTree(
              call(
                  "GET",
                  "/api/exchanges/" + vhostPath() + "/" + encoded(exchange) + "/bindings/source"));
      List<String> queues = new ArrayList<>();
      for (JsonNode b : bindings) {
        if (b.path("destination_type").asText().equals("queue")) {
          queues.add(b.path("destination").asText());
        }
      }
      return queues;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A queue as the management API lists it. */
  public record QueueKind(
      String name, String type, boolean durable, boolean exclusive, boolean autoDelete) {}

  /** The queues of the AMQP URI's vhost whose names begin with {@code prefix}: at once. */
  public List<QueueKind> queues(String prefix) {
    try {
      JsonNode queues =
          Wire.JSON.readTree(
              call(
                  "GET",
                  "/api/queues/"
                      + vhostPath()
                      + "?disable_stats=true&columns=name,type,durable,exclusive,auto_delete"));
      List<QueueKind> found = new ArrayList<>();
      for (JsonNode q : queues) {
        String name = q.path("name").asText();
        if (name.startsWith(prefix)) {
          found.add(
              new QueueKind(
                  name,
                  q.path("type").asText(),
                  q.path("durable").asBoolean(),
                  q.path("exclusive").asBoolean(),
                  q.path("auto_delete").asBoolean()));
        }
      }
      return found;
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String encoded(String name) {
    return URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /**
   * A queue's ready and unacknowledged messages, from the management API's statistics, which lag up
   * to 5 s behind: wait for the figures you expect.
   *
   * @param queue the queue's broker name
   */
  public QueueCounts queue(String queue) {
    try {
      JsonNode q =
          Wire.JSON.readTree(
              call(
                  "GET",
                  "/api/queues/"
                      + vhostPath()
                      + "/"
                      + encoded(queue)
                      + "?columns=messages_ready,messages_unacknowledged"));
      return new QueueCounts(
          q.path("messages_ready").asLong(), q.path("messages_unacknowledged").asLong());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Creates (or replaces) a user with these permissions on the AMQP URI's vhost.
   *
   * @return an AMQP URI that logs in as that user
   */
  public URI createUser(String user, String password, Permissions permissions) {
    call("PUT", "/api/users/" + user, Map.of("password", password, "tags", ""));
    call(
        "PUT",
        "/api/permissions/" + vhostPath() + "/" + user,
        Map.of(
            "configure", permissions.configure(),
            "write", permissions.write(),
            "read", permissions.read()));
    return URI.create(
        "amqp://"
            + user
            + ":"
            + password
            + "@"
            + amqp.getHost()
            + ":"
            + (amqp.getPort() > 0 ? amqp.getPort() : 5672)
            + "/");
  }

  public void deleteUser(String user) {
    call("DELETE", "/api/users/" + user, null);
  }

  /**
   * Creates a vhost and gives the AMQP URI's user every permission on it.
   *
   * @return the AMQP URI, with its credentials, of that vhost
   */
  public URI createVhost(String vhost) {
    String path = URLEncoder.encode(vhost, StandardCharsets.UTF_8);
    call("PUT", "/api/vhosts/" + path, Map.of());
    call(
        "PUT",
        "/api/permissions/" + path + "/" + user(),
        Map.of("configure", ".*", "write", ".*", "read", ".*"));
    return amqp.resolve("/" + path);
  }

  /**
   * Sets the vhost's {@code max-queues} limit: the queues that exist stay, and no other can be
   * declared beyond it; -1 for none.
   */
  public void limitQueues(String vhost, int max) {
    call(
        "PUT",
        "/api/vhost-limits/" + URLEncoder.encode(vhost, StandardCharsets.UTF_8) + "/max-queues",
        Map.of("value", max));
  }

  /**
   * Sets the vhost's {@code max-connections} limit: the connections that are open stay, and no
   * other is let in beyond it (0: none); -1 for no limit.
   */
  public void limitConnections(String vhost, int max) {
    call(
        "PUT",
        "/api/vhost-limits/"
            + URLEncoder.encode(vhost, StandardCharsets.UTF_8)
            + "/max-connections",
        Map.of("value", max));
  }

  /** Deletes the vhost and everything in it. */
  public void deleteVhost(String vhost) {
    call("DELETE", "/api/vhosts/" + URLEncoder.encode(vhost, StandardCharsets.UTF_8), null);
  }

  /** The vhost of the AMQP URI, encoded for a path ("/" is "%2F"). */
  private String vhostPath() {
    String path = amqp.getPath();
    String vhost = path == null || path.isEmpty() || path.equals("/") ? "/" : path.substring(1);
    return URLEncoder.encode(vhost, StandardCharsets.UTF_8);
  }

  private String call(String method, String path) {
    return call(method, path, null);
  }

  private String user() {
    return userInfo()[0];
  }

  private String[] userInfo() {
    return (amqp.getUserInfo() == null ? "guest:guest" : amqp.getUserInfo()).split(":", 2);
  }

  private String call(String method, String path, Map<String, ?> body) {
    String[] userInfo = userInfo();
    String auth =
        Base64.getEncoder()
            .encodeToString((userInfo[0] + ":" + userInfo[1]).getBytes(StandardCharsets.UTF_8));
    HttpRequest req =
        HttpRequest.newBuilder(URI.create("http://" + amqp.getHost() + ":15672" + path))
            .timeout(Duration.ofSeconds(10))
            .header("Authorization", "Basic " + auth)
            .header("Content-Type", "application/json")
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(Wire.toJson(body)))
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
          "the management API is needed for this test"
              + " (rabbitmq-plugins enable rabbitmq_management): "
              + e,
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
