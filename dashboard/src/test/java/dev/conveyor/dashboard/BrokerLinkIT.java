package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.impl.ForgivingExceptionHandler;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ControlLogCommands;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The dashboard's link to the broker, against the real broker. */
@ExtendWith(BrokerExtension.class)
class BrokerLinkIT {

  /**
   * amqp-client's recovery declares everything again on the channel that declared it: the control
   * log, which the dashboard's commands go through, must be declared on a channel that lives as
   * long as the link, or each reconnection logs an error for it (it was declared on one closed at
   * once).
   */
  @Test
  void aLinkThatReconnectsDeclaresItsTopologyAgainWithoutAnError(TestBroker broker)
      throws Exception {
    try (LogCapture recovery = LogCapture.of(ForgivingExceptionHandler.class);
        BrokerLink link = BrokerLink.open(broker.settings(), e -> {}, s -> {})) {
      CountDownLatch recovered = Recoveries.next(link.connection());
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      admin.closeConnectionsOnceListed("conveyor-dashboard " + broker.namespace(), 1);

      assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();
      assertThat(recovery.warnings()).filteredOn(w -> w.contains(broker.namespace())).isEmpty();
    }
  }

  /**
   * The dashboard's commands go out as the command line's do: the control log, which every worker
   * reads, keeps only the stops and kills of named tasks (docs/protocol.md).
   */
  @Test
  void theControlLogKeepsOnlyTheStopsAndKillsOfNamedTasks(TestBroker broker) throws Exception {
    try (BrokerLink link = BrokerLink.open(broker.settings(), e -> {}, s -> {})) {
      link.command(Command.PAUSE, Target.all(), false, "alice", m -> {});
      link.command(Command.KILL, Target.all(), false, "alice", m -> {});
      link.command(Command.STOP, new Target.Tasks(List.of("t-1")), true, "alice", m -> {});
      link.command(Command.STOP, new Target.Tasks(List.of("t-2")), false, "alice", m -> {});
      link.statusRound("alice");
      link.command(Command.RESUME, Target.all(), false, "alice", m -> {});
    }

    assertThat(ControlLogCommands.entries(broker))
        .as("the control log's entries")
        .extracting(e -> new String(e.body(), StandardCharsets.UTF_8))
        .singleElement()
        .satisfies(stop -> assertThat(stop).contains("\"stop\"", "t-2"));
  }
}
