package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.PrivateBroker;
import dev.conveyor.testkit.PrivateBrokerExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.QueueCounts;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A memory alarm ({@code set_vm_memory_high_watermark 0.00001}, then 0.4): the broker stops reading
 * from every connection that publishes. {@code producer publish} says so and finishes once the
 * alarm clears; a worker whose connection is blocked still stops a task at its deadline; nothing is
 * lost.
 */
@ExtendWith(PrivateBrokerExtension.class)
class MemoryAlarmIT {

  private static final long TIMEOUT_MS = 1000;

  /** How late a stop may come after the deadline on a busy 2-CPU host. */
  private static final long MARGIN_MS = 1500;

  private final long start = System.nanoTime();

  @Test
  void aMemoryAlarmBlocksPublishersVisiblyDeadlinesStillFireAndNothingIsLost(
      PrivateBroker rabbit, @TempDir Path dir) throws IOException {
    TestBroker broker = rabbit.testBroker();
    EventLog events = EventLog.open(broker);
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          broker.topology().declareTaskQueue(ch, "default");
          broker.topology().declareRetryQueue(ch, "default");
          return broker.topology().declareControlLog(ch);
        });
    // A heartbeat every second: the worker publishes soon after the alarm, which blocks it.
    ProgramProcess worker =
        Programs.worker(broker, "a1", "--exec-allow", "/bin/sh", "--heartbeat", "1s");
    ProgramProcess producer = null;
    try {
      Awaitility.await("the worker started")
          .atMost(Duration.ofSeconds(90))
          .until(
              () -> events.workers().stream().anyMatch(e -> e.state().equals(WorkerEvent.STARTED)));
      lap("worker started");

      // The task must start while the broker blocks the worker, and nothing can be published
      // then. So it waits in the retry queue until the test, on a connection that publishes
      // nothing (which an alarm does not block), rejects it: the broker itself then dead-letters
      // it into the task queue, as it does with a retry that comes due.
      Path started = dir.resolve("started");
      Path stopped = dir.resolve("stopped");
      // Builtins only, timed by the files' modification times: the stop signals the whole tree,
      // leaves first, so a program started to write a time (date) could be killed before it did.
      // The sleep's end or the shell's own SIGTERM, whichever comes first, marks the stop.
      String script =
          ": > %1$s; trap ': > %2$s; exit 143' TERM; sleep 60 & wait; : > %2$s"
              .formatted(started, stopped);
      TaskMessage task =
          new TaskMessage(
              "alarmed-" + broker.namespace(),
              "exec",
              Wire.JSON.valueToTree(Map.of("command", List.of("/bin/sh", "-c", script))),
              TIMEOUT_MS,
              5000L,
              null,
              null,
              Instant.now());
      String held = broker.names().retryQueue("default");
      broker.withConfirms(
          ch -> {
            ch.basicPublish(
                "",
                held,
                new AMQP.BasicProperties.Builder()
                    .messageId(task.id())
                    .contentType(Wire.CONTENT_TYPE)
                    .deliveryMode(2)
                    .build(),
                Wire.encode(task));
            return null;
          });
      Connection releaser = broker.open("conveyor-test alarm releaser");

      rabbit.setMemoryWatermark(0.00001);
      Awaitility.await("the alarm").atMost(Duration.ofSeconds(60)).until(rabbit::alarmed);
      lap("memory alarm in force");
      // The worker publishes a heartbeat every second, after which the broker stops reading it.
      Awaitility.await("the worker's connection blocked")
          .atMost(Duration.ofSeconds(60))
          .until(() -> "blocked".equals(rabbit.connectionStates().get("conveyor-worker a1")));
      lap("worker blocked");

      producer =
          ProgramProcess.start(
              "producer",
              Programs.env(broker),
              List.of(
                  "publish", "--type", "noop", "--count", "3", "--wait", "--wait-timeout", "2m"));
      ProgramProcess p = producer;
      Awaitility.await("producer publish says the broker blocks it")
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  p.output()
                      .contains(
                          "producer: the broker is blocking publishers (low on memory); waiting"));
      lap("producer reports the block");

      // The task arrives during the alarm, on a worker whose connection the broker no longer reads.
      try (Channel ch = releaser.createChannel()) {
        GetResponse got = ch.basicGet(held, false);
        assertThat(got).as("the held task").isNotNull();
        ch.basicNack(got.getEnvelope().getDeliveryTag(), false, false);
      } catch (TimeoutException e) {
        throw new IllegalStateException(e);
      }
      lap("task released");
      Awaitility.await("the task started")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(20))
          .until(() -> Files.exists(started));
      lap("task started");
      Awaitility.await("the task stopped")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(20))
          .until(() -> Files.exists(stopped));
      long ranMs = (nanos(stopped) - nanos(started)) / 1_000_000;
      lap("task stopped after " + ranMs + " ms");
      assertThat(ranMs)
          .as("SIGTERM at the deadline (%d ms) while the broker blocks the worker", TIMEOUT_MS)
          .isLessThanOrEqualTo(TIMEOUT_MS + MARGIN_MS);
      assertThat(rabbit.alarmed()).as("the alarm still in force after the stop").isTrue();
      assertThat(rabbit.connectionStates())
          .as("the worker's connection still blocked")
          .containsEntry("conveyor-worker a1", "blocked");

      // The alarm outlasts the worker's wait for a publish confirm (10 s), and the producer's
      // confirm timeout is no reason to give up either: it waits, and prints nothing yet.
      ProgramProcess waiting = producer;
      Awaitility.await("the producer waiting through the alarm")
          .during(Duration.ofSeconds(12))
          .atMost(Duration.ofSeconds(15))
          .until(
              () ->
                  waiting.process().isAlive()
                      && waiting.output().lines().noneMatch(l -> l.matches("[0-9a-f-]{36}")));
      rabbit.setMemoryWatermark(0.4);
      lap("alarm cleared");
      assertThat(producer.waitFor(Duration.ofSeconds(120))).as(producer.output()).isZero();
      String out = producer.output();
      assertThat(out.lines().filter(l -> l.endsWith(" succeeded"))).as(out).hasSize(3);
      assertThat(out.lines().filter(l -> l.contains("the broker is blocking publishers")))
          .as(out)
          .hasSize(1);
      assertThat(out).contains("producer: the broker unblocked publishers; continuing");
      lap("producer done");

      // Nothing lost: the task ends as timed out and dead-lettered, once; the queue holds nothing.
      TaskEvent dead = events.await(task.id(), TaskState.DEAD, Duration.ofSeconds(60));
      assertThat(dead.cause())
          .as("why the task is dead; its events: %s", events.of(task.id()))
          .isEqualTo(Cause.DEADLINE);
      assertThat(events.states(task.id()))
          .containsExactly(TaskState.RUNNING, TaskState.TIMED_OUT, TaskState.DEAD);
      Awaitility.await("the task queue empty, nothing unacked")
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofSeconds(1))
          .until(() -> rabbit.queue(broker.names().taskQueue("default")).equals(QueueCounts.EMPTY));
      List<GetResponse> dlq = broker.drainDead();
      assertThat(dlq).extracting(r -> r.getProps().getMessageId()).containsExactly(task.id());
      assertThat(worker.process().isAlive()).as(worker.output()).isTrue();
      events.duplicates("memory alarm", List.of(task.id()));
    } catch (RuntimeException | AssertionError e) {
      System.out.println("--- events: " + events.tasks());
      System.out.println("--- dead letters: " + Faults.deadLetters(broker));
      System.out.println("--- " + worker + " output:\n" + worker.output());
      if (producer != null) {
        System.out.println("--- " + producer + " output:\n" + producer.output());
      }
      throw e;
    } finally {
      if (producer != null) {
        producer.close();
      }
    }
  }

  private void lap(String what) {
    System.out.printf("[memory alarm] +%.1f s %s%n", (System.nanoTime() - start) / 1e9, what);
  }

  private static long nanos(Path file) {
    try {
      Instant t = Files.getLastModifiedTime(file).toInstant();
      return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
