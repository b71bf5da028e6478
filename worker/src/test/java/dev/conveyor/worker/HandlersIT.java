package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** User task types: a jar in {@code --handlers}, found with ServiceLoader, run like built-ins. */
@ExtendWith(BrokerExtension.class)
class HandlersIT {

  private static final String GREET =
      """
      package example;
      import dev.conveyor.worker.api.TaskContext;
      import dev.conveyor.worker.api.TaskHandler;
      public class Greet implements TaskHandler {
        record Who(String name) {}
        public String type() { return "%s"; }
        public Object handle(TaskContext ctx) {
          return "hello " + ctx.payload(Who.class).name() + " on attempt " + ctx.attempt();
        }
      }
      """;

  /** Holds on to something until the worker closes it; the close leaves a mark in a file. */
  private static final String CLOSEABLE =
      """
      package example;
      import dev.conveyor.worker.api.TaskContext;
      import dev.conveyor.worker.api.TaskHandler;
      import java.nio.file.Files;
      import java.nio.file.Path;
      public class Greet implements TaskHandler, AutoCloseable {
        public String type() { return "closeable"; }
        public Object handle(TaskContext ctx) { return null; }
        public void close() throws Exception { Files.writeString(Path.of("%s"), "closed"); }
      }
      """;

  private static Path handlerJar(Path dir, String type) throws IOException {
    return compiledJar(dir, GREET.formatted(type));
  }

  /** One handler ({@code example.Greet}) compiled and packaged with its service entry. */
  private static Path compiledJar(Path dir, String source) throws IOException {
    return HandlerJar.build(dir, "Greet", source, "greet.jar", List.of("example.Greet"));
  }

  /** A worker {@code w1} with the handlers in {@code jars}. */
  private static Worker startWith(TestBroker broker, Path jars) throws Exception {
    return broker.own(
        Worker.start(
            WorkerConfig.defaults(broker.settings())
                .withName("w1")
                .withHandlersDir(Optional.of(jars))));
  }

  @Test
  void aHandlerFromAJarRunsAndItsResultIsInTheEvent(TestBroker broker, @TempDir Path dir)
      throws Exception {
    Path jars = handlerJar(dir, "greet");
    EventLog events = EventLog.open(broker);
    startWith(broker, jars);
    String id = Broker.task(broker, "{\"type\":\"greet\",\"payload\":{\"name\":\"ada\"}}");
    TaskEvent done = events.await(id, TaskState.SUCCEEDED);
    assertThat(done.result().asText()).isEqualTo("hello ada on attempt 1");
  }

  /** Returns a string of {@code {"kib":N}} KiB. */
  private static final String BIG =
      """
      package example;
      import dev.conveyor.worker.api.TaskContext;
      import dev.conveyor.worker.api.TaskHandler;
      public class Greet implements TaskHandler {
        record Size(int kib) {}
        public String type() { return "big"; }
        public Object handle(TaskContext ctx) {
          return "x".repeat(ctx.payload(Size.class).kib() * 1024);
        }
      }
      """;

  /**
   * A result of any size went into its event; over the broker's max_message_size (128 MiB by
   * default) the broker closed the events channel and the outcome was never announced. An event
   * over 1 MiB now goes without its result, saying so; a smaller result is kept.
   */
  @Test
  void aResultTooLargeForAnEventIsLeftOutOfItAndTheOutcomeStillAnnounced(
      TestBroker broker, @TempDir Path dir) throws Exception {
    Path jars = compiledJar(dir, BIG);
    EventLog events = EventLog.open(broker);
    startWith(broker, jars);
    String huge = Broker.task(broker, "{\"type\":\"big\",\"payload\":{\"kib\":2048}}");
    String fits = Broker.task(broker, "{\"type\":\"big\",\"payload\":{\"kib\":512}}");

    TaskEvent left = events.await(huge, TaskState.SUCCEEDED);
    assertThat(left.result()).isNull();
    assertThat(left.reason()).startsWith("result left out: 2048 KiB as JSON, over the 1024 KiB");
    assertThat(events.await(fits, TaskState.SUCCEEDED).result().asText()).hasSize(512 * 1024);
  }

  @Test
  void aHandlerThatIsAutoCloseableIsClosedWhenItsWorkerStops(TestBroker broker, @TempDir Path dir)
      throws Exception {
    Path mark = dir.resolve("closed");
    Path jars = compiledJar(dir, CLOSEABLE.formatted(mark));
    Worker worker = startWith(broker, jars);
    assertThat(mark).doesNotExist();

    worker.close();

    assertThat(mark).hasContent("closed");
  }

  @Test
  void aTypeDefinedTwiceOrAMissingDirectoryIsRefusedAtStart(TestBroker broker, @TempDir Path dir)
      throws Exception {
    Path jars = handlerJar(dir, "noop");
    WorkerConfig config = WorkerConfig.defaults(broker.settings()).withName("w1");
    assertThatThrownBy(() -> Worker.start(config.withHandlersDir(Optional.of(jars))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'noop' is defined twice");
    assertThatThrownBy(
            () -> Worker.start(config.withHandlersDir(Optional.of(dir.resolve("nowhere")))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a directory");
  }
}
