package dev.conveyor.worker.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.PrivateCluster;
import dev.conveyor.testkit.PrivateClusterExtension;
import dev.conveyor.testkit.TestBroker;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * On a cluster, a node consumes a stream only once it holds a replica of it, and a stream just
 * declared starts its replicas on the other nodes a moment later: a worker that started right then
 * on another node died of PRECONDITION_FAILED "does not have a replica on the local node" (seen by
 * hand on a 3-node cluster; 6 of 10 consumers started right after the declaration were refused).
 * Here node 3 holds no replica of the control log at all (the test removes it) until the test adds
 * one back: the replay a worker starts on node 3 waits for it, says so, and then follows the log.
 */
@ExtendWith(PrivateClusterExtension.class)
class ControlLogReplicaIT {

  @Test
  void theReplayWaitsForAReplicaOfTheControlLogOnItsNodeInsteadOfFailing(PrivateCluster cluster)
      throws Exception {
    TestBroker broker = cluster.testBroker(1);
    String controlLog = broker.names().controlLog();
    try (LogCapture replayLog = LogCapture.of(ControlLogReplay.class);
        Connection first = connect(cluster.uri(1));
        Connection third = connect(cluster.uri(3))) {
      try (Channel ch = first.createChannel()) {
        broker.topology().declareCore(ch);
        broker.topology().declareControlLog(ch); // led by node 1, where it is declared
      }
      assertThat(replicaCall(cluster, "delete_replica", controlLog)).isEqualTo("ok");
      Awaitility.await("node 3's replica of the control log gone")
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(500))
          .until(() -> !cluster.members(1, controlLog).contains(3));

      ControlLogReplay replay =
          broker.own(
              new ControlLogReplay(
                  third,
                  broker.topology(),
                  new Revocations(),
                  new CommandVerifier(Optional.empty()),
                  refusal -> {}));
      CompletableFuture<Boolean> caughtUp = new CompletableFuture<>();
      Thread starter =
          Thread.ofPlatform()
              .name("test-replay-start")
              .start(
                  () -> {
                    try {
                      caughtUp.complete(replay.startAndCatchUp(Duration.ofSeconds(60)));
                    } catch (Exception | Error e) {
                      caughtUp.completeExceptionally(e);
                    }
                  });
      try {
        Awaitility.await("the replay waiting for a replica on node 3")
            .atMost(Duration.ofSeconds(60))
            .until(
                () -> {
                  if (caughtUp.isCompletedExceptionally()) {
                    caughtUp.join(); // fails the test with the replay's exception
                  }
                  return replayLog.all().stream()
                      .anyMatch(l -> l.contains("has no replica of it yet"));
                });
        assertThat(caughtUp).as("still waiting for the replica").isNotDone();
        assertThat(replicaCall(cluster, "add_replica", controlLog)).isEqualTo("ok");
        assertThat(caughtUp.get(90, java.util.concurrent.TimeUnit.SECONDS))
            .as("caught up with the control log; the replay's log: %s", replayLog.all())
            .isTrue();
        assertThat(replayLog.all()).anyMatch(l -> l.contains("following it (attempt"));
        assertThat(replayLog.warnings()).as("nothing went wrong").isEmpty();
      } finally {
        starter.join(Duration.ofSeconds(120));
      }
    }
  }

  /** rabbit_stream_queue:add_replica/delete_replica of node 3, run on node 1. */
  private static String replicaCall(PrivateCluster cluster, String function, String stream) {
    return cluster
        .ctl(
            1,
            "eval",
            "rabbit_stream_queue:"
                + function
                + "(<<\"/\">>, <<\""
                + stream
                + "\">>, '"
                + cluster.nodeName(3)
                + "').")
        .strip();
  }

  private static Connection connect(URI uri) throws Exception {
    ConnectionFactory f = new ConnectionFactory();
    f.setHost(uri.getHost());
    f.setPort(uri.getPort());
    return f.newConnection("test-replica-" + uri.getPort());
  }
}
