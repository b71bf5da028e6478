package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The commands that only read never create a namespace that a typo named. */
@ExtendWith(BrokerExtension.class)
class MissingNamespaceIT {

  private TestBroker broker;
  private Names typo;

  @BeforeEach
  void setUp(TestBroker broker) {
    this.broker = broker;
    // The real namespace exists (a worker declared it); the operator mistypes it.
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          return null;
        });
    this.typo = new Names(broker.namespace() + "x");
  }

  /** Whatever a broken command may have created, so that the shared broker stays clean. */
  @AfterEach
  void cleanUp() {
    for (String q : List.of(typo.deadQueue(), typo.controlLog())) {
      broker.withChannel(ch -> ch.queueDelete(q));
    }
    for (String x :
        List.of(
            typo.tasksExchange(),
            typo.deadExchange(),
            typo.controlExchange(),
            typo.eventsExchange())) {
      broker.withChannel(ch -> ch.exchangeDelete(x));
    }
  }

  private boolean exists(ChannelCheck check) throws IOException {
    Connection c = broker.connection();
    Channel ch = c.createChannel();
    try {
      check.run(ch);
      return true;
    } catch (IOException e) {
      return false;
    } finally {
      if (ch.isOpen()) {
        try {
          ch.close();
        } catch (Exception ignored) {
          // closed by the broker meanwhile
        }
      }
    }
  }

  private interface ChannelCheck {
    void run(Channel ch) throws IOException;
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "status",
        "status --json",
        "watch --for 200ms",
        "dead list",
        "dead replay --all",
        "dead purge --id x"
      })
  void aMistypedNamespaceIsReportedAndNotCreated(String command) throws Exception {
    List<String> args = new java.util.ArrayList<>(List.of(command.split(" ")));
    args.add("--uri=" + broker.uri());
    args.add("--namespace=" + typo.namespace());

    Control.Result r = Control.run(args.toArray(String[]::new));

    assertEquals(1, r.exit(), r::toString);
    assertEquals("", r.out(), r::toString);
    assertEquals(
        "control: namespace '"
            + typo.namespace()
            + "' does not exist on the broker (no exchange "
            + typo.controlExchange()
            + ")\n",
        r.err(),
        r::toString);
    assertFalse(exists(ch -> ch.exchangeDeclarePassive(typo.controlExchange())));
    assertFalse(exists(ch -> ch.exchangeDeclarePassive(typo.eventsExchange())));
    assertFalse(exists(ch -> ch.exchangeDeclarePassive(typo.tasksExchange())));
    assertFalse(exists(ch -> ch.queueDeclarePassive(typo.deadQueue())));
    // The real one is untouched.
    assertTrue(exists(ch -> ch.exchangeDeclarePassive(broker.names().controlExchange())));
  }
}
