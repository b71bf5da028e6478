package dev.conveyor.worker;

import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.PrivateCluster;
import dev.conveyor.testkit.PrivateClusterExtension;
import dev.conveyor.testkit.TestBroker;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A worker's queue of commands lives on the node it was connected to: a command published while
 * that node is down does not reach it there. A stop or kill that names tasks is also in the control
 * log, a stream with a replica on every node, which the worker reads on from where it was once it
 * has reconnected to another node: it acts on it from there, and answers.
 *
 * <p>Held open: the worker's user gets another password while node 2, where it was connected, is
 * stopped, so that it cannot come back on another node until the test has published the kill.
 */
@ExtendWith(PrivateClusterExtension.class)
class NodeLossCommandsIT {

  private static final String PASSWORD = "pw";

  @Test
  void aKillPublishedWhileTheWorkersNodeIsDownIsAppliedFromTheControlLogOnAnother(
      PrivateCluster cluster) throws Exception {
    TestBroker broker = cluster.testBroker(1); // the test's connections stay on node 1
    String name = "moved-" + broker.namespace();
    // Led by node 1, which stays: the task queue and the control log.
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          broker.topology().declareControlLog(ch);
          broker.topology().declareTaskQueue(ch, "default");
          return null;
        });
    cluster.ctl(1, "add_user", name, PASSWORD);
    cluster.ctl(1, "set_permissions", "-p", "/", name, ".*", ".*", ".*");
    EventLog events = broker.own(EventLog.open(broker));
    Worker w =
        broker.own(
            Worker.start(
                WorkerConfig.defaults(
                        new BrokerSettings(
                            cluster.urisFrom(2).stream().map(u -> as(u, name)).toList(),
                            broker.namespace(),
                            Optional.empty()))
                    .withName(name)
                    .withShutdownGrace(Duration.ofSeconds(2))));
    String task = Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":600}}");
    events.await(task, TaskState.RUNNING, Duration.ofSeconds(30));

    cluster.ctl(1, "change_password", name, "another");
    cluster.stopApp(2);
    Awaitility.await("the worker, disconnected")
        .atMost(Duration.ofSeconds(30))
        .until(() -> !w.ready());
    ControlMessage kill = Broker.command(Command.KILL, new Target.Tasks(List.of(task)), false);
    Broker.control(broker, kill);
    cluster.ctl(1, "change_password", name, PASSWORD);

    LostConnectionCommandsIT.assertKilledOnceBack(events, kill, task, name, Duration.ofSeconds(60));
  }

  private static URI as(URI node, String user) {
    try {
      return new URI(
          node.getScheme(),
          user + ":" + PASSWORD,
          node.getHost(),
          node.getPort(),
          node.getPath(),
          null,
          null);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(e);
    }
  }
}
