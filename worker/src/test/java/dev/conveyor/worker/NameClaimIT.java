package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.ops.NameClaim;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two workers with one name in one namespace could not be told apart by {@code control}: the second
 * one refuses to start while the first is connected.
 */
@ExtendWith(BrokerExtension.class)
class NameClaimIT {

  private static WorkerConfig config(TestBroker broker, String name) {
    return WorkerConfig.defaults(broker.settings())
        .withName(name)
        .withShutdownGrace(Duration.ofSeconds(2));
  }

  @Test
  void aSecondWorkerWithTheSameNameIsRefusedAndTheFirstKeepsServing(TestBroker broker)
      throws Exception {
    EventLog events = EventLog.open(broker);
    broker.own(Worker.start(config(broker, "twin")));

    assertThatThrownBy(() -> broker.own(Worker.start(config(broker, "twin"))))
        .isInstanceOf(UsageException.class)
        .hasMessage(
            "a worker named twin is already connected to namespace "
                + broker.namespace()
                + "; give this one another --name (`control status --worker twin` shows where it"
                + " runs)");

    broker.own(Worker.start(config(broker, "other")));
    String id = Broker.task(broker, "{\"type\":\"noop\"}");
    assertThat(events.await(id, TaskState.SUCCEEDED).worker()).isIn("twin", "other");
  }

  @Test
  void theNameIsFreeAgainOnceItsWorkerHasClosed(TestBroker broker) throws Exception {
    Worker first = Worker.start(config(broker, "again"));
    first.close();

    Worker second = broker.own(Worker.start(config(broker, "again")));

    assertThat(second.name()).isEqualTo("again");
  }

  /**
   * amqp-client recovers the connection, not the claim: the worker claims its name again, so that a
   * namesake started after the reconnection is still refused.
   */
  @Test
  void aWorkerClaimsItsNameAgainAfterReconnecting(TestBroker broker) throws Exception {
    String name = "lossy-" + broker.namespace();
    broker.own(Worker.start(config(broker, name)));
    BrokerAdmin admin = new BrokerAdmin(broker.uri());
    admin.closeConnectionsOnceListed("conveyor-worker " + name, 1);

    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> heldByAnotherConnection(broker, broker.names().workerName(name)));
    assertThatThrownBy(() -> broker.own(Worker.start(config(broker, name))))
        .isInstanceOf(UsageException.class)
        .hasMessageStartingWith("a worker named " + name + " is already connected");
  }

  /**
   * The broker refuses a claim by closing the channel it was made on; that channel must not stay
   * known to amqp-client, whose recovery would open it again, idle, at every later reconnection
   * (after each reconnection a worker claims its name again, and may be refused each time).
   */
  @Test
  void aRefusedClaimLeavesNoChannelForTheRecoveryToOpenAgain(TestBroker broker) throws Exception {
    String name = "claimed-" + broker.namespace();
    NameClaim.claim(broker.open(name + "-first"), broker.names(), name);
    Connection second = broker.open(name + "-second");

    assertThatThrownBy(() -> NameClaim.claim(second, broker.names(), name))
        .isInstanceOf(UsageException.class);
    assertThat(Recoveries.channelsToRecover(second)).isZero();
  }

  /** A passive declaration answers RESOURCE_LOCKED for a queue another connection holds. */
  private static boolean heldByAnotherConnection(TestBroker broker, String queue) {
    try {
      return broker.withChannel(
          ch -> {
            ch.queueDeclarePassive(queue);
            return false;
          });
    } catch (RuntimeException e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof ShutdownSignalException s
            && s.getReason() instanceof AMQP.Channel.Close close) {
          return close.getReplyCode() == 405; // else 404: not there (yet)
        }
      }
      return false;
    }
  }
}
