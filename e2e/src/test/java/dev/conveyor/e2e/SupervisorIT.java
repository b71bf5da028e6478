package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** bin/workers does not restart a worker that restarting cannot help. */
@ExtendWith(BrokerExtension.class)
class SupervisorIT {

  private static long linesContaining(String output, String fragment) {
    return output.lines().filter(l -> l.contains(fragment)).count();
  }

  @Test
  void aUsageErrorEndsTheSupervisorWithExit2WithoutARestart(TestBroker broker) {
    ProgramProcess supervisor =
        broker.own(
            ProgramProcess.start("workers", Programs.env(broker), List.of("1", "--no-such-flag")));
    assertThat(supervisor.waitFor(Duration.ofSeconds(30))).as(supervisor.output()).isEqualTo(2);
    String out = supervisor.output();
    assertThat(out).contains("Unknown option: '--no-such-flag'");
    assertThat(linesContaining(out, "w1 started")).as(out).isEqualTo(1);
    assertThat(out).as(out).doesNotContain("restarts in").doesNotContain("; restarting it");
    assertThat(linesContaining(out, "exited with 2 (usage or configuration error)"))
        .as(out)
        .isEqualTo(1);
  }

  @Test
  void anUnreachableBrokerIsRetriedWithBackOffThenGivenUpWithExit3(TestBroker broker) {
    Map<String, String> env = new HashMap<>(Programs.env(broker));
    env.put("CONVEYOR_GIVE_UP_AFTER", "3");
    env.put("CONVEYOR_RESTART_DELAY", "1");
    // Nothing listens on port 1: every worker exits 3 at once.
    ProgramProcess supervisor =
        broker.own(
            ProgramProcess.start(
                "workers",
                env,
                List.of("1", "--uri", "amqp://guest:s3cret-pw@127.0.0.1:1/", "--name", "refused")));
    long start = System.nanoTime();
    assertThat(supervisor.waitFor(Duration.ofSeconds(90))).as(supervisor.output()).isEqualTo(3);
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    String out = supervisor.output();
    assertThat(linesContaining(out, "exited with 3 (broker unreachable")).as(out).isEqualTo(3);
    // Backed off: 1 s, then 2 s, between the three tries.
    assertThat(out).contains("w1 restarts in 1s").contains("w1 restarts in 2s");
    assertThat(took).isGreaterThanOrEqualTo(Duration.ofSeconds(3));
    assertThat(out)
        .contains("3 times in a row: giving up on the broker at amqp://guest:****@127.0.0.1:1/");
    assertThat(out).as("the password is masked everywhere").doesNotContain("s3cret-pw");
  }

  @Test
  void theDemoMasksThePasswordWhenItsWorkersDoNotComeUp(TestBroker broker) {
    Map<String, String> env = new HashMap<>(Programs.env(broker));
    env.put("CONVEYOR_URI", "amqp://guest:s3cret-pw@127.0.0.1:1/");
    env.put("CONVEYOR_GIVE_UP_AFTER", "1");
    try (ProgramProcess demo = ProgramProcess.start("demo", env, List.of("1", "1"))) {
      assertThat(demo.waitFor(Duration.ofSeconds(90))).as(demo.output()).isEqualTo(1);
      String out = demo.output();
      assertThat(out)
          .contains("the workers did not come up (is RabbitMQ reachable at amqp://guest:****@");
      assertThat(out).as("the password is masked everywhere").doesNotContain("s3cret-pw");
    }
  }
}
