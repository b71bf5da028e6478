package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.PrivateVhost;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A worker that loses its connection before the broker sees it go (a reset from a load balancer)
 * comes back while the broker still hands its queue of commands to the lost connection, which drops
 * what it takes. A stop or kill that names tasks is also in the control log, which the worker
 * follows from the last entry it read: it acts on it from there.
 *
 * <p>Held open: the vhost keeps the worker out while a connection of the test's, consuming the
 * worker's queue of commands as the lost one did, takes the kill; the broker holds that connection
 * for as long as the test runs.
 */
@ExtendWith(BrokerExtension.class)
class LostConnectionCommandsIT {

  @Test
  void aKillThatTheLostConnectionTookIsAppliedFromTheControlLogOnceTheWorkerIsBack(
      TestBroker shared) throws Exception {
    try (PrivateVhost vhost = PrivateVhost.create(shared.uri())) {
      TestBroker broker = vhost.testBroker();
      String name = "lost-" + broker.namespace();
      EventLog events = broker.own(EventLog.open(broker));
      broker.own(
          Worker.start(
              WorkerConfig.defaults(broker.settings())
                  .withName(name)
                  .withShutdownGrace(Duration.ofSeconds(2))));
      String task = Broker.task(broker, "{\"type\":\"sleep\",\"payload\":{\"seconds\":600}}");
      events.await(task, TaskState.RUNNING, Duration.ofSeconds(30));

      Connection lingering = broker.open("lingering " + name);
      AtomicInteger takenByLingering = new AtomicInteger();
      Channel ch = lingering.createChannel();
      vhost.limitConnections(0);
      new BrokerAdmin(broker.uri()).closeConnectionsOnceListed("conveyor-worker " + name, 1);
      ch.basicConsume(
          broker.names().commandsFor(name),
          true,
          new DefaultConsumer(ch) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
              takenByLingering.incrementAndGet();
            }
          });
      // The broker ends the closed connection's consumers after it has closed it.
      Awaitility.await("the lost connection's consumer of commands, alone")
          .atMost(Duration.ofSeconds(30))
          .until(() -> broker.consumerCount(broker.names().commandsFor(name)) == 1);
      ControlMessage kill = Broker.command(Command.KILL, new Target.Tasks(List.of(task)), false);
      Broker.control(broker, kill);
      Awaitility.await("the kill, taken by the lost connection")
          .atMost(Duration.ofSeconds(30))
          .until(() -> takenByLingering.get() == 1);
      NameClaimIT.holdName(lingering, broker, name);
      vhost.limitConnections(-1);

      assertKilledOnceBack(events, kill, task, name, Duration.ofSeconds(30));
    }
  }

  /**
   * The kill, published while {@code worker} was away, is applied and answered once after it came
   * back, and {@code task} ends cancelled by it.
   */
  static void assertKilledOnceBack(
      EventLog events, ControlMessage kill, String task, String worker, Duration wait) {
    CommandApplied applied =
        Awaitility.await("the kill, applied once the worker is back")
            .atMost(wait)
            .until(() -> events.applied(kill.id()), l -> !l.isEmpty())
            .getFirst();
    assertThat(applied.worker()).isEqualTo(worker);
    // The worker stopped the task when it lost its connection (the broker redelivers it): the
    // kill finds it running again, or revokes it before it comes back.
    assertThat(Stream.concat(applied.killed().stream(), applied.revoked().stream()))
        .containsExactly(task);
    TaskEvent last = events.awaitFinal(task, Duration.ofSeconds(30));
    assertThat(last.state()).isEqualTo(TaskState.CANCELLED);
    assertThat(last.issuedBy()).isEqualTo(kill.issuedBy());
    assertThat(events.applied(kill.id())).as("applied once").hasSize(1);
  }
}
