package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/worker} given bad input refuses to start with one clear line and the documented exit
 * code (2 usage, 3 broker), instead of a stack trace or a worker that runs with a setting it
 * misread.
 */
@ExtendWith(BrokerExtension.class)
class WorkerInputIT {

  @Test
  void anUnknownFlagIsAUsageError(TestBroker broker) {
    Programs.Result r = Programs.run(broker, "worker", "--concurency", "4");

    assertThat(r.exitCode()).as(r.output()).isEqualTo(2);
    assertThat(r.lines())
        .containsExactly("worker: Unknown options: '--concurency', '4'", "Try 'worker --help'.");
  }

  @Test
  void aMissingControlKeyFileIsAUsageErrorNamingTheFile(TestBroker broker, @TempDir Path dir) {
    Path key = dir.resolve("control.key");

    Programs.Result r = Programs.run(broker, "worker", "--control-key-file", key.toString());

    assertThat(r.exitCode()).as(r.output()).isEqualTo(2);
    assertThat(r.lines())
        .containsExactly("worker: cannot read control key file " + key + ": no such file");
  }

  @Test
  void aRelativeExecAllowIsAUsageError(TestBroker broker) {
    Programs.Result r = Programs.run(broker, "worker", "--exec-allow", "bin/tool");

    assertThat(r.exitCode()).as(r.output()).isEqualTo(2);
    assertThat(r.lines()).containsExactly("worker: --exec-allow: not an absolute path: bin/tool");
  }

  /** Once said only "worker: null" (the scheduler's exception), after connecting. */
  @Test
  void aZeroHeartbeatIsAUsageErrorNamingTheFlag(TestBroker broker) {
    Programs.Result r = Programs.run(broker, "worker", "--heartbeat", "0s");

    assertThat(r.exitCode()).as(r.output()).isEqualTo(2);
    assertThat(r.lines()).containsExactly("worker: --heartbeat must be at least 100ms");
  }

  /** Once "java.net.BindException: Address already in use", exit 1, after taking tasks. */
  @Test
  void aMetricsPortInUseIsAUsageErrorNamingFlagAndPort(TestBroker broker) throws Exception {
    try (ServerSocket taken = new ServerSocket()) {
      taken.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      int port = taken.getLocalPort();

      Programs.Result r = Programs.run(broker, "worker", "--metrics-port", Integer.toString(port));

      assertThat(r.exitCode()).as(r.output()).isEqualTo(2);
      assertThat(r.lines())
          .containsExactly(
              "worker: --metrics-port " + port + " is already in use on 127.0.0.1; choose another");
    }
  }

  @Test
  void aSecondWorkerWithTheNameOfAConnectedOneRefusesToStart(TestBroker broker) {
    EventLog events = EventLog.open(broker);
    Programs.worker(broker, "twin");
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> events.workers().stream().anyMatch(e -> e.worker().equals("twin")));

    Programs.Result r = Programs.run(broker, "worker", "--name", "twin");

    assertThat(r.exitCode()).as(r.output()).isEqualTo(2);
    assertThat(r.lines())
        .contains(
            "worker: a worker named twin is already connected to namespace "
                + broker.namespace()
                + "; give this one another --name (`control status --worker twin` shows where it"
                + " runs)");
  }

  @Test
  void anUnreachableBrokerExitsThree(TestBroker broker) {
    Map<String, String> env = new java.util.HashMap<>(Programs.env(broker));
    env.put("CONVEYOR_URI", "amqp://guest:guest@127.0.0.1:1/");
    try (ProgramProcess p = ProgramProcess.start("worker", env)) {
      assertThat(p.waitFor(Duration.ofSeconds(60))).as(p.output()).isEqualTo(3);
      assertThat(p.output()).contains("cannot connect to broker amqp://guest:****@127.0.0.1:1/");
    }
  }
}
