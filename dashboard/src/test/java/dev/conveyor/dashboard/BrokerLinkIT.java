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
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
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

  /**
   * A control exchange deleted under a running dashboard (and not yet declared again by a worker or
   * a command): the broker refuses the next status round and the next command by closing the
   * channel each went out on. The dashboard's later rounds and commands must go out all the same,
   * declaring the exchange again as a command does; they failed for good, the channels closed,
   * until the dashboard was restarted.
   */
  @Test
  void aControlExchangeDeletedUnderTheLinkDoesNotSilenceItsRoundsAndCommands(TestBroker broker)
      throws Exception {
    String control = broker.names().controlExchange();
    String heard = broker.namespace() + ".heard";
    broker.deleteAfterwards(heard);
    try (BrokerLink link = BrokerLink.open(broker.settings(), e -> {}, s -> {})) {
      new BrokerAdmin(broker.uri()).deleteExchange(control);
      link.statusRound("alice"); // refused: the broker closes the channel it went out on
      // Refused too, and sent again on a new channel with the exchange declared: it goes out.
      link.command(Command.PAUSE, Target.all(), false, "alice", m -> {});
      link.command(Command.RESUME, Target.all(), false, "alice", m -> {});
      broker.withChannel(
          ch -> {
            ch.queueDeclare(heard, true, false, true, null);
            return ch.queueBind(heard, control, "");
          });
      Awaitility.await("a status round heard")
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(100))
          .until(
              () -> {
                try {
                  link.statusRound("alice");
                } catch (IOException | RuntimeException e) {
                  return false;
                }
                return broker.messageCount(heard) > 0;
              });
    }
  }
}
