package dev.conveyor.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.BuiltinExchangeType;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ControlLogCommands;
import dev.conveyor.testkit.TestBroker;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What a stop, kill, pause or resume declares before it publishes, sent without waiting for each
 * answer ({@link ControlSession#commandChannel}), and what happens when one of the declarations
 * fails.
 */
@ExtendWith(BrokerExtension.class)
class CommandChannelIT {

  @Test
  void aStopInANamespaceNobodyMadeYetDeclaresIt(TestBroker broker) {
    Control.Result r = Control.run(broker, "stop", "--task", "t-1", "--discover-timeout", "200ms");
    assertThat(r.exit()).as(r.toString()).isZero();
    Names n = broker.names();
    broker.withChannel(
        ch -> {
          for (String exchange :
              new String[] {
                n.tasksExchange(),
                n.deadExchange(),
                n.controlExchange(),
                n.controlLogged(),
                n.eventsExchange()
              }) {
            ch.exchangeDeclarePassive(exchange);
          }
          ch.queueDeclarePassive(n.deadQueue());
          ch.queueDeclarePassive(n.controlLog());
          return null;
        });
  }

  /**
   * A control log that cannot be declared (here a classic queue holds its name) closes the channel
   * the declarations were sent on: they are made again one at a time, the control log's failure is
   * only logged (a warning), and the command still reaches the control exchange.
   */
  @Test
  void aControlLogThatCannotBeDeclaredIsAWarningAndTheKillGoesOut(TestBroker broker) {
    Names n = broker.names();
    String seen =
        broker.withChannel(
            ch -> {
              broker.topology().declareCore(ch);
              ch.queueDeclare(n.controlLog(), true, false, false, Map.of());
              String q = ch.queueDeclare().getQueue();
              ch.queueBind(q, n.controlExchange(), "");
              return q;
            });

    Control.Result r = Control.run(broker, "kill", "--task", "t-1", "--discover-timeout", "200ms");

    assertThat(r.exit()).as(r.toString()).isZero();
    assertThat(r.out()).as(r.toString()).contains("t-1: not running; revoked");
    GetResponse got = broker.withChannel(ch -> ch.basicGet(seen, true));
    assertThat(got).as("the kill on the control exchange").isNotNull();
    assertThat(new String(got.getBody())).contains("\"kill\"", "t-1");
  }

  /**
   * Every entry of the control log costs each starting worker a read, and each running worker a
   * delivery: the log keeps only what a later worker must honour, stops and kills of named tasks. A
   * status round (a dashboard sends one every few seconds), a stop of all tasks, a requeueing kill,
   * a pause: they act on the workers that hear them, and go out with keys the log's exchange does
   * not pass on.
   */
  @Test
  void theControlLogKeepsOnlyTheStopsAndKillsOfNamedTasks(TestBroker broker) throws Exception {
    List<List<String>> commands =
        List.of(
            List.of("stop", "--task", "t-1"),
            List.of("stop", "--all"),
            List.of("kill", "--all"),
            List.of("kill", "--task", "t-2", "--requeue"),
            List.of("pause"),
            List.of("resume"),
            List.of("kill", "--task", "t-3"));
    for (List<String> command : commands) {
      List<String> args = new ArrayList<>(command);
      args.add("--no-wait");
      Control.Result r = Control.run(broker, args.toArray(String[]::new));
      assertThat(r.exit()).as(r.toString()).isZero();
    }
    Control.Result status = Control.run(broker, "status", "--timeout", "200ms");
    assertThat(status.exit()).as(status.toString()).isZero();

    assertThat(ControlLogCommands.entries(broker))
        .as("the control log's entries")
        .extracting(e -> new String(e.body(), StandardCharsets.UTF_8))
        .satisfiesExactly(
            stop -> assertThat(stop).contains("\"stop\"", "t-1"),
            kill -> assertThat(kill).contains("\"kill\"", "t-3"));
  }

  /** A core declaration the broker refuses is the command's failure, in the broker's words. */
  @Test
  void aCoreDeclarationTheBrokerRefusesFailsTheCommand(TestBroker broker) {
    broker.withChannel(
        ch -> {
          ch.exchangeDeclare(broker.names().controlExchange(), BuiltinExchangeType.TOPIC, true);
          return null;
        });

    Control.Result r = Control.run(broker, "pause", "--discover-timeout", "200ms");

    assertThat(r.exit()).as(r.toString()).isEqualTo(1);
    assertThat(r.err()).as(r.toString()).contains("inequivalent arg 'type'");
  }
}
