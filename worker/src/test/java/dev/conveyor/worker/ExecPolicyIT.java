package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * An exec task that asks for an environment variable or a directory the operator did not allow is
 * rejected and dead-lettered with the reason; the program never runs.
 */
@ExtendWith(BrokerExtension.class)
class ExecPolicyIT {

  @Test
  void aTaskThatSetsAVariableOrDirectoryNotAllowedIsDeadLetteredWithTheReason(
      TestBroker broker, @TempDir Path dir) throws Exception {
    Path jobs = Files.createDirectories(dir.resolve("jobs"));
    Path ran = dir.resolve("ran");
    EventLog events = EventLog.open(broker);
    broker.own(
        Worker.start(
            WorkerConfig.defaults(broker.settings())
                .withName("w1")
                .withExecAllow(List.of(Path.of("/bin/sh")))
                .withExecEnvAllow(List.of("GREETING"))
                .withExecCwdAllow(List.of(jobs))));
    String touch = "\"command\":[\"/bin/sh\",\"-c\",\"touch " + ran + "; echo $GREETING\"]";

    String preload =
        Broker.task(
            broker,
            "{\"type\":\"exec\",\"payload\":{"
                + touch
                + ",\"env\":{\"LD_PRELOAD\":\"/tmp/x.so\"}}}");
    String elsewhere =
        Broker.task(
            broker, "{\"type\":\"exec\",\"payload\":{" + touch + ",\"cwd\":\"" + dir + "\"}}");
    String allowed =
        Broker.task(
            broker,
            "{\"type\":\"exec\",\"payload\":{"
                + touch.replace("touch " + ran + "; ", "")
                + ",\"env\":{\"GREETING\":\"hi\"},\"cwd\":\""
                + jobs
                + "\"}}");

    TaskEvent refusedEnv = events.await(preload, TaskState.REJECTED);
    assertThat(refusedEnv.cause()).isEqualTo(Cause.REJECTED);
    assertThat(refusedEnv.reason())
        .isEqualTo("exec: env LD_PRELOAD is not allowed (worker --exec-env-allow)");
    TaskEvent refusedCwd = events.await(elsewhere, TaskState.REJECTED);
    assertThat(refusedCwd.reason())
        .startsWith("exec: cwd " + dir)
        .endsWith("is not in an allowed directory (worker --exec-cwd-allow)");
    TaskEvent ok = events.await(allowed, TaskState.SUCCEEDED);
    assertThat(ok.result().path("output").asText()).isEqualTo("hi\n");

    List<GetResponse> dead = WorkerIT.awaitDead(broker, 2);
    assertThat(dead)
        .extracting(r -> WorkerIT.header(r, Headers.DEAD_REASON))
        .containsExactlyInAnyOrder(refusedEnv.reason(), refusedCwd.reason());
    assertThat(ran).doesNotExist();
  }
}
