package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Permissions;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The permissions the README (Restricting users) shows let a producer only publish tasks and a
 * control user only send commands — and still let every program do its work.
 */
@ExtendWith(BrokerExtension.class)
class PermissionsIT {

  private BrokerAdmin admin;
  private final List<String> users = new java.util.ArrayList<>();

  @AfterEach
  void deleteUsers() {
    if (admin != null) {
      users.forEach(admin::deleteUser);
    }
  }

  private URI user(TestBroker broker, String role, Permissions permissions) {
    admin = new BrokerAdmin(broker.uri());
    String name = role + "-" + broker.namespace();
    users.add(name);
    return admin.createUser(name, "pw-" + role, permissions);
  }

  private static Map<String, String> as(TestBroker broker, URI uri) {
    Map<String, String> env = new HashMap<>(Programs.env(broker));
    env.put("CONVEYOR_URI", uri.toString());
    return env;
  }

  private static Programs.Result run(TestBroker broker, URI uri, String program, String... args) {
    try (ProgramProcess p = ProgramProcess.start(program, as(broker, uri), args)) {
      return new Programs.Result(p.waitFor(Duration.ofSeconds(120)), p.output());
    }
  }

  @Test
  void eachRoleCanDoItsWorkAndNothingElse(TestBroker broker) throws Exception {
    Names names = broker.names();
    URI producer = user(broker, "producer", Permissions.producer(names));
    URI operator = user(broker, "operator", Permissions.control(names));
    URI worker = user(broker, "worker", Permissions.worker(names));
    EventLog events = EventLog.open(broker);

    broker.own(ProgramProcess.start("worker", as(broker, worker), List.of("--name", "w1")));
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> events.workers().stream().anyMatch(e -> e.state().equals(WorkerEvent.STARTED)));

    Programs.Result published =
        run(broker, producer, "producer", "publish", "--type", "noop", "--count", "3", "--wait");
    assertThat(published.exitCode()).as(published.output()).isZero();
    assertThat(published.lines().stream().filter(l -> l.endsWith(" succeeded"))).hasSize(3);

    Programs.Result status = run(broker, operator, "control", "status", "--json");
    assertThat(status.exitCode()).as(status.output()).isZero();
    assertThat(status.output()).contains("\"worker\":\"w1\"");
    String id =
        run(
                broker,
                producer,
                "producer",
                "publish",
                "--type",
                "sleep",
                "--payload",
                "{\"seconds\":30}")
            .lines()
            .getFirst()
            .trim();
    events.await(id, TaskState.RUNNING);
    Programs.Result stop = run(broker, operator, "control", "stop", "--task", id);
    assertThat(stop.exitCode()).as(stop.output()).isZero();
    events.await(id, TaskState.CANCELLED);
    Programs.Result dead = run(broker, operator, "control", "dead", "list", "--json");
    assertThat(dead.exitCode()).as(dead.output()).isZero();

    // What each role must not do: a producer sends no command, an operator takes no task.
    try (Connection c = connect(broker, producer)) {
      Channel ch = c.createChannel();
      ch.confirmSelect();
      ch.basicPublish(
          names.controlExchange(),
          "",
          null,
          "{\"command\":\"stop\"}".getBytes(StandardCharsets.UTF_8));
      assertThatThrownBy(() -> ch.waitForConfirmsOrDie(5000))
          .hasStackTraceContaining("ACCESS_REFUSED");
    }
    try (Connection c = connect(broker, operator)) {
      Channel ch = c.createChannel();
      assertThatThrownBy(() -> ch.basicConsume(names.taskQueue("default"), new DefaultConsumer(ch)))
          .hasStackTraceContaining("ACCESS_REFUSED");
    }
  }

  @Test
  void theReadmeShowsThesePermissionsForTheDefaultNamespace() throws IOException {
    String readme = Files.readString(ProgramProcess.repo().resolve("README.md"));
    Names names = new Names("conveyor");
    assertThat(readme)
        .contains(Permissions.producer(names).rabbitmqctl("/", "producer"))
        .contains(Permissions.control(names).rabbitmqctl("/", "operator"))
        .contains(Permissions.worker(names).rabbitmqctl("/", "worker"));
  }

  private static Connection connect(TestBroker broker, URI uri) throws Exception {
    return new BrokerConnector(
            new BrokerSettings(List.of(uri), broker.namespace(), Optional.empty()))
        .connect("permissions-test");
  }
}
