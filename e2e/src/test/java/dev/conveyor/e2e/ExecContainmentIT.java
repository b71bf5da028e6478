package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The processes of an {@code exec} task do not outlive their worker: after a {@code kill -9} of the
 * worker they run on (nothing in the dead JVM can end them), the next worker started on the host
 * ends them.
 */
@ExtendWith(BrokerExtension.class)
class ExecContainmentIT {

  @Test
  void theExecChildrenOfAKilledWorkerEndWhenTheNextWorkerStarts(
      TestBroker broker, @TempDir Path dir) throws Exception {
    assumeTrue(Files.isDirectory(Path.of("/proc/self")), "needs Linux /proc");
    EventLog events = EventLog.open(broker);
    ProgramProcess doomed = Programs.worker(broker, "doomed", "--exec-allow", "/bin/sh");
    Path pidFile = dir.resolve("pid");
    Programs.Result published =
        Programs.run(
            broker,
            "producer",
            "publish",
            "--type",
            "exec",
            "--payload",
            "{\"command\":[\"/bin/sh\",\"-c\",\"/bin/sleep 600 & echo $! > "
                + pidFile
                + "; wait\"]}");
    assertThat(published.exitCode()).as(published.output()).isZero();
    String id = published.lines().getLast();
    events.await(id, TaskState.RUNNING, Duration.ofSeconds(60));
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> Files.exists(pidFile) && Files.size(pidFile) > 0);
    ProcessHandle sleep =
        ProcessHandle.of(Long.parseLong(Files.readString(pidFile).trim())).orElseThrow();

    doomed.process().destroyForcibly(); // SIGKILL: bin/worker is the JVM (exec)
    assertThat(doomed.waitFor(Duration.ofSeconds(10))).isEqualTo(137);
    assertThat(sleep.isAlive()).as("the task's child outlives its killed worker").isTrue();

    // Another name and another queue: it does not run the redelivered task, it only starts.
    broker.useQueue("other"); // deleted with the namespace
    ProgramProcess next = Programs.worker(broker, "next", "--queues", "other");

    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> !sleep.isAlive() || zombie(sleep));
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                next.output()
                    .contains("of tasks of a worker that is gone (pid [" + doomed.pid() + "])"));
  }

  /** Killed and waiting to be reaped by init: ended. */
  private static boolean zombie(ProcessHandle p) {
    try {
      String stat = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) == 'Z';
    } catch (java.io.IOException e) {
      return true; // reaped
    }
  }
}
