package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The shaded jar, run as users run it: exit codes come from {@code System.exit}. */
@ExtendWith(BrokerExtension.class)
class JarIT {

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-jar");
    cmd.add(ProgramProcess.shadedJar("control").toString());
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("control-out", ".txt");
    Path err = Files.createTempFile("control-err", ".txt");
    try {
      Process p =
          new ProcessBuilder(cmd)
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
              .start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("control did not exit: " + cmd);
      }
      return new Run(
          p.exitValue(),
          Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  @Test
  void helpExitsZero() throws Exception {
    Run r = run("--help");
    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.out().contains("Usage: control"), r::toString);
    assertTrue(r.out().contains("dead"), r::toString);
  }

  @Test
  void aUsageErrorExitsTwo() throws Exception {
    Run r = run("stop", "--all", "--task", "x");
    assertEquals(2, r.exit(), r::toString);
    assertTrue(r.err().contains("mutually exclusive"), r::toString);
  }

  @Test
  void anUnreachableBrokerExitsThreeWithOneLineOnStderr() throws Exception {
    Run r = run("status", "--uri", "amqp://guest:pa55@127.0.0.1:1");
    assertEquals(3, r.exit(), r::toString);
    assertEquals(1, r.err().lines().count(), r::toString);
    assertFalse(r.err().contains("pa55"), r::toString);
    assertEquals("", r.out());
  }

  /**
   * Ids and reasons come from whoever publishes tasks; printed raw, an escape sequence among them
   * was obeyed by the operator's terminal (here: clear the screen, retitle the window).
   */
  @Test
  void whatOthersPublishedIsPrintedWithItsControlCharactersEscaped(TestBroker broker)
      throws Exception {
    broker.withConfirms(
        ch -> {
          broker.topology().declareCore(ch);
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              new AMQP.BasicProperties.Builder()
                  .messageId("evil\u001b[2J")
                  .contentType("application/json")
                  .headers(Map.of(Headers.DEAD_REASON, "boom\u001b]0;pwned\u0007"))
                  .build(),
              "{\"type\":\"noop\"}".getBytes(StandardCharsets.UTF_8));
          return null;
        });

    Run r =
        run("dead", "list", "--uri", broker.uri().toString(), "--namespace", broker.namespace());

    assertEquals(0, r.exit(), r::toString);
    assertFalse(r.out().contains("\u001b") || r.out().contains("\u0007"), r::toString);
    assertTrue(r.out().contains("evil\\u001b[2J"), r::toString);
    assertTrue(r.out().contains("boom\\u001b]0;pwned\\u0007"), r::toString);
  }
}
