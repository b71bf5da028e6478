package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.broker.KeptQueueName;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerAdmin.QueueKind;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.control.ControlListener;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A worker started beside what an older Conveyor declared otherwise (transient queues, which
 * RabbitMQ 4.3 refuses by default): an older worker still counted on {@code ns.workers}, and the
 * queues of commands and of requeued-task events an older worker of the same name left behind when
 * it was killed.
 */
@ExtendWith(BrokerExtension.class)
class OlderQueuesIT {

  @Test
  void aWorkerStartsBesideAnOlderConveyorsQueuesAndIsCountedOnceTheOlderWorkersAreGone(
      TestBroker broker) throws Exception {
    String name = "newer-" + broker.namespace();
    String workers = broker.names().workers();
    String commands = broker.names().commandsFor(name);
    EventLog events = broker.own(EventLog.open(broker));

    Connection older = broker.open("older-" + broker.namespace());
    Channel ch = older.createChannel();
    broker.topology().declareCore(ch);
    ch.queueDeclare(workers, false, false, true, Map.of("x-max-length", 0));
    String olderWorker = ch.basicConsume(workers, true, new DefaultConsumer(ch));
    ch.queueDeclare(
        commands, false, false, false, Map.of("x-expires", 60_000L, "x-max-length", 1000));
    ch.queueBind(commands, broker.names().controlExchange(), "");
    String requeued = broker.names().requeuedFor(name);
    ch.queueDeclare(requeued, false, false, false, Map.of("x-expires", 60_000L));
    ControlMessage stale = Broker.command(Command.PAUSE, Target.all(), false);
    Broker.control(broker, stale);
    assertThat(broker.messageCount(commands)).isEqualTo(1);

    try (LogCapture log = LogCapture.of(ControlListener.class);
        LogCapture moves = LogCapture.of(KeptQueueName.class);
        Worker w = Worker.start(config(broker, name))) {
      assertThat(log.warnings())
          .anyMatch(l -> l.contains(workers) && l.contains("could not be consumed ("));
      // It hears commands, not the one left for the older worker of its name, and runs tasks.
      ControlMessage stop = Broker.command(Command.STOP, new Target.Tasks(List.of("none")), false);
      Broker.control(broker, stop);
      Awaitility.await("the stop applied")
          .atMost(Duration.ofSeconds(10))
          .until(() -> !events.applied(stop.id()).isEmpty());
      assertThat(events.applied(stale.id())).isEmpty();
      assertThat(w.paused()).isFalse();
      events.await(Broker.task(broker, "{\"type\":\"noop\"}"), TaskState.SUCCEEDED);

      // The older worker goes: its ns.workers with it, and the newer one is counted on its own.
      ch.basicCancel(olderWorker);
      Awaitility.await("counted")
          .atMost(Duration.ofSeconds(30))
          .until(() -> broker.consumerCountOrMissing(workers) == 1);
      assertThat(log.all()).anyMatch(l -> l.contains(workers + ": this worker is counted again"));
      BrokerAdmin admin = new BrokerAdmin(broker.uri());
      assertThat(admin.queues(workers)).extracting(QueueKind::type).containsExactly("quorum");
      // The older queue of commands, declared otherwise, was left for a name of the worker's own.
      assertThat(moves.warnings())
          .anyMatch(
              l -> l.contains("queue " + commands + " cannot be declared (PRECONDITION_FAILED"));
      assertThat(admin.queues(commands + ".moved-"))
          .singleElement()
          .satisfies(q -> assertThat(q.type()).isEqualTo("classic"))
          .satisfies(q -> assertThat(q.durable()).isTrue());
      assertThat(moves.warnings()).anyMatch(l -> l.contains("queue " + requeued + " cannot be"));
      assertThat(admin.queues(requeued + ".moved-"))
          .singleElement()
          .satisfies(q -> assertThat(q.durable()).isTrue());
    }
  }

  private static WorkerConfig config(TestBroker broker, String name) {
    return WorkerConfig.defaults(
            new BrokerSettings(List.of(broker.uri()), broker.namespace(), Optional.empty()))
        .withName(name)
        .withConcurrency(1)
        .withShutdownGrace(Duration.ofMillis(500))
        .withKillGrace(Duration.ofMillis(500));
  }
}
