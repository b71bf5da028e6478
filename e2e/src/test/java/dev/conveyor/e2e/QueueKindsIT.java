package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.dashboard.Role;
import dev.conveyor.dashboard.UserStore;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerAdmin.QueueKind;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.PrivateVhost;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the programs declare on the broker, each doing its work at once: no transient non-exclusive
 * queue, which RabbitMQ 3.13 marks deprecated and 4.3 refuses by default (the programs would not
 * start there).
 */
@ExtendWith(BrokerExtension.class)
class QueueKindsIT {

  @Test
  void everyQueueTheProgramsDeclareIsDurableOrExclusive(TestBroker shared, @TempDir Path dir)
      throws Exception {
    // A vhost of its own: every queue in it is one these programs declared.
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri())) {
      TestBroker broker = vhost.testBroker();
      // First: watch and the dashboard read a namespace that exists.
      ProgramProcess worker = Programs.worker(broker, "w1", "--retry-delay", "1s");
      Awaitility.await("the worker consuming")
          .atMost(Duration.ofSeconds(60))
          .until(() -> worker.output().contains("consuming"));
      ProgramProcess watch =
          broker.own(ProgramProcess.start("control", Programs.env(broker), "watch"));
      Path users = dir.resolve("users");
      UserStore.add(users, "alice", Role.VIEWER, "a-long-enough-password");
      ProgramProcess dashboard =
          broker.own(
              ProgramProcess.start(
                  "dashboard",
                  Programs.env(broker),
                  "--port",
                  "0",
                  "--users-file",
                  users.toString()));
      Awaitility.await("watch and the dashboard subscribed")
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  watch.output().contains("watching ")
                      && dashboard.output().contains("dashboard listening on"));
      assertThat(Programs.run(broker, "producer", "publish", "--type", "noop", "--wait").exitCode())
          .isZero();
      assertThat(Programs.run(broker, "control", "pause").exitCode()).isZero();
      assertThat(Programs.run(broker, "control", "resume").exitCode()).isZero();
      assertThat(Programs.run(broker, "control", "status").exitCode()).isZero();
      Awaitility.await("watch saw the task")
          .atMost(Duration.ofSeconds(10))
          .until(() -> watch.output().contains("task.succeeded"));

      List<QueueKind> queues = new BrokerAdmin(broker.uri()).queues("");
      assertThat(queues)
          .extracting(QueueKind::name)
          .contains(
              broker.names().workers(),
              broker.names().commandsFor("w1"),
              broker.names().requeuedFor("w1"))
          .anyMatch(name -> name.startsWith("amq.gen-")); // watch's and the dashboard's
      assertThat(queues)
          .as("transient non-exclusive queues")
          .filteredOn(q -> !q.durable() && !q.exclusive())
          .isEmpty();
    }
  }
}
