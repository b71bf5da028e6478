package dev.conveyor.producer;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded jar, run as users run it: what it prints for people holds what others chose (task ids,
 * the reasons workers give), so both its outputs go through the same escaping as control's.
 */
@ExtendWith(BrokerExtension.class)
class JarIT {

  @TempDir Path dir;

  private record Run(int exit, String out, String err) {}

  private Process start(TestBroker broker, String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-jar");
    cmd.add(ProgramProcess.shadedJar("producer").toString());
    cmd.addAll(List.of("publish", "--uri=" + broker.uri(), "--namespace=" + broker.namespace()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd)
        .redirectOutput(dir.resolve("out").toFile())
        .redirectError(dir.resolve("err").toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
  }

  private Run finish(Process p) throws Exception {
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      p.waitFor();
      throw new AssertionError("producer did not exit");
    }
    return new Run(
        p.exitValue(),
        Files.readString(dir.resolve("out"), StandardCharsets.UTF_8),
        Files.readString(dir.resolve("err"), StandardCharsets.UTF_8));
  }

  private static void assertNoControlCharacters(Run r) {
    for (String s : List.of(r.out(), r.err())) {
      assertFalse(s.contains("\u001b") || s.contains("\u0007"), r::toString);
    }
  }

  @Test
  void anIdWithoutAnOutcomeIsNamedOnStderrWithItsControlCharactersEscaped(TestBroker broker)
      throws Exception {
    Run r =
        finish(start(broker, "--type=noop", "--id=evil\u001b[2J", "--wait", "--wait-timeout=1s"));

    assertEquals(1, r.exit(), r::toString);
    assertNoControlCharacters(r);
    assertEquals("evil\\u001b[2J\n", r.out(), r::toString);
    assertTrue(r.err().contains("tasks have no final outcome yet: evil\\u001b[2J\n"), r::toString);
  }

  @Test
  void aReasonAWorkerGivesIsPrintedWithItsControlCharactersEscaped(TestBroker broker)
      throws Exception {
    Process p = start(broker, "--type=noop", "--id=t1", "--wait", "--wait-timeout=60s");
    String queue = broker.names().taskQueue("default");
    // A worker of another language takes the task and rejects it, quoting what it read.
    GetResponse task =
        await()
            .atMost(Duration.ofSeconds(30))
            .ignoreExceptions() // the queue is declared by the producer once it runs
            .until(
                () -> broker.withChannel(ch -> ch.basicGet(queue, true)),
                java.util.Objects::nonNull);
    TaskEvent rejected =
        new TaskEvent(
            task.getProps().getMessageId(),
            "noop",
            TaskState.REJECTED,
            "foreign",
            1,
            Instant.now(),
            null,
            null,
            "boom\u001b]0;pwned\u0007",
            null,
            "default",
            null);
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().eventsExchange(),
              rejected.routingKey(),
              new AMQP.BasicProperties.Builder().contentType(Wire.CONTENT_TYPE).build(),
              Wire.JSON.writeValueAsBytes(rejected));
          return null;
        });

    Run r = finish(p);

    assertEquals(1, r.exit(), r::toString);
    assertNoControlCharacters(r);
    assertEquals("t1\nt1 rejected boom\\u001b]0;pwned\\u0007\n", r.out(), r::toString);
  }
}
