package dev.conveyor.producer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.testkit.PrivateBroker;
import dev.conveyor.testkit.PrivateBrokerExtension;
import dev.conveyor.testkit.TestBroker;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Someone deletes the queue {@code producer publish --wait} follows outcomes on ({@code rabbitmqctl
 * delete_queue} on its {@code amq.gen-*} queue). The broker cancels its consumer; nothing
 * subscribed it again, so it heard no outcome and waited out {@code --wait-timeout}. It subscribes
 * again, and the outcomes published afterwards end the wait. On a node of its own, as only {@code
 * rabbitmqctl} on the node can delete that queue.
 */
@ExtendWith(PrivateBrokerExtension.class)
class WaitQueueDeletedIT {

  @Test
  void aWaitWhoseQueueIsDeletedSubscribesAgainAndSeesTheOutcomes(PrivateBroker node)
      throws Exception {
    TestBroker broker = node.testBroker();
    CompletableFuture<CliRun> publish =
        CompletableFuture.supplyAsync(
            () ->
                CliRun.run(
                    "publish",
                    "--uri=" + broker.uri(),
                    "--namespace=" + broker.namespace(),
                    "--type=noop",
                    "--id=t1",
                    "--wait",
                    "--wait-timeout=60s"));
    // No worker runs: the task waits in its queue, and the producer for its outcome.
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .ignoreException(UncheckedIOException.class) // the producer has not declared it yet
        .until(() -> broker.messageCount(broker.names().taskQueue("default")) == 1);

    String deleted = node.deleteTheServerNamedQueue();
    Awaitility.await("subscribed again")
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                node.ctl("list_queues", "-q", "name", "consumers")
                    .lines()
                    .anyMatch(
                        l ->
                            l.startsWith("amq.gen-")
                                && !l.startsWith(deleted)
                                && l.endsWith("\t1")));
    broker.publishEvent(
        "task.succeeded", "{\"task\":\"t1\",\"type\":\"noop\",\"state\":\"succeeded\"}");

    CliRun r = publish.get(30, TimeUnit.SECONDS);
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.out()).contains("t1 succeeded");
  }
}
