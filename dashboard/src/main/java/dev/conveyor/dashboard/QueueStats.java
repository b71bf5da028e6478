package dev.conveyor.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Names;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Message counts of the namespace's queues. Ready messages and consumers come from passive
 * declarations (any AMQP user that may read the queues can do that); unacknowledged messages only
 * the management API knows, so they are shown when it answers and left blank otherwise.
 */
final class QueueStats {
  private static final Logger log = LoggerFactory.getLogger(QueueStats.class);

  /** One queue's counts; {@code unacked} is null when the management API did not tell. */
  record Counts(String queue, String brokerName, Long ready, Long unacked, Long consumers) {}

  /** A task queue with its retry queue, and the dead-letter queue. */
  record Snapshot(List<Counts> taskQueues, List<Counts> retryQueues, Counts dead) {
    static final Snapshot EMPTY = new Snapshot(List.of(), List.of(), null);
  }

  private final Names names;
  private final URI management;
  private final String authorization;
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(2))
          .build();
  private boolean managementWarned;

  /**
   * @param management the management API's base URL ({@code http://host:15672/}) with the vhost, or
   *     null to use passive declarations only
   * @param user,password credentials for it
   */
  QueueStats(Names names, URI management, String vhost, String user, String password) {
    this.names = names;
    this.management =
        management == null
            ? null
            : management.resolve(
                "api/queues/"
                    + URLEncoder.encode(vhost, StandardCharsets.UTF_8)
                    + "?columns=name,messages_ready,messages_unacknowledged,consumers");
    this.authorization =
        "Basic "
            + Base64.getEncoder()
                .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  /** The management URL for an AMQP URI: same host, port 15672, same credentials and vhost. */
  static QueueStats forAmqp(Names names, URI amqp, URI managementOverride) {
    String userInfo = amqp.getUserInfo();
    String user = "guest";
    String password = "guest";
    if (userInfo != null) {
      int colon = userInfo.indexOf(':');
      user = colon < 0 ? userInfo : userInfo.substring(0, colon);
      password = colon < 0 ? "" : userInfo.substring(colon + 1);
    }
    String path = amqp.getPath();
    String vhost = path == null || path.isEmpty() || path.equals("/") ? "/" : path.substring(1);
    URI management =
        managementOverride != null
            ? managementOverride
            : URI.create("http://" + amqp.getHost() + ":15672/");
    if (!management.toString().endsWith("/")) {
      management = URI.create(management + "/");
    }
    return new QueueStats(names, management, vhost, user, password);
  }

  Snapshot read(Connection connection, Set<String> queues) {
    Map<String, long[]> managed = management();
    List<Counts> tasks = new ArrayList<>();
    List<Counts> retries = new ArrayList<>();
    for (String q : queues) {
      tasks.add(counts(connection, q, names.taskQueue(q), managed));
      retries.add(counts(connection, q, names.retryQueue(q), managed));
    }
    Counts dead = counts(connection, "dead", names.deadQueue(), managed);
    return new Snapshot(tasks, retries, dead);
  }

  private Counts counts(
      Connection connection, String queue, String brokerName, Map<String, long[]> managed) {
    long[] m = managed.get(brokerName);
    if (m != null) {
      return new Counts(queue, brokerName, m[0], m[1], m[2]);
    }
    // Not listed, or listed without counts yet: the management API fills a new queue's counts in
    // only with its next statistics round (5 s by default), and reading the missing fields as 0
    // showed a queue with a consumer as having none. A passive declaration knows at once.
    AMQP.Queue.DeclareOk ok = passive(connection, brokerName);
    return ok == null
        ? new Counts(queue, brokerName, null, null, null)
        : new Counts(
            queue, brokerName, (long) ok.getMessageCount(), null, (long) ok.getConsumerCount());
  }

  /** A passive declaration on a channel of its own: a missing queue closes the channel. */
  private static AMQP.Queue.DeclareOk passive(Connection connection, String queue) {
    Channel ch = null;
    try {
      ch = connection.createChannel();
      return ch.queueDeclarePassive(queue);
    } catch (IOException | RuntimeException e) {
      return null;
    } finally {
      Channels.closeQuietly(ch);
    }
  }

  /** Counts of the namespace's queues by broker name: ready, unacked, consumers. */
  private Map<String, long[]> management() {
    Map<String, long[]> out = new HashMap<>();
    if (management == null) {
      return out;
    }
    try {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(management)
                  .timeout(Duration.ofSeconds(3))
                  .header("Authorization", authorization)
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        warnOnce("the management API answered " + r.statusCode());
        return out;
      }
      String prefix = names.namespace() + ".";
      for (JsonNode q : Wire.JSON.readTree(r.body())) {
        String name = q.path("name").asText("");
        // A queue the statistics have not reached yet is listed with its name only.
        if (name.startsWith(prefix)
            && q.hasNonNull("messages_ready")
            && q.hasNonNull("messages_unacknowledged")
            && q.hasNonNull("consumers")) {
          out.put(
              name,
              new long[] {
                q.path("messages_ready").asLong(),
                q.path("messages_unacknowledged").asLong(),
                q.path("consumers").asLong()
              });
        }
      }
    } catch (IOException e) {
      warnOnce(e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return out;
  }

  private void warnOnce(String why) {
    if (!managementWarned) {
      managementWarned = true;
      log.warn(
          "queue counts without unacknowledged messages: the management API at {} is not usable"
              + " ({})",
          management.getHost() + ":" + management.getPort(),
          why);
    }
  }
}
