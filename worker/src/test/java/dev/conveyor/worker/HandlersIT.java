package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
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

  /**
   * Compiles one handler ({@code example.Greet}) and packages it with its service entry, as a user
   * would.
   */
  private static Path compiledJar(Path dir, String source) throws IOException {
    Path src = Files.createDirectories(dir.resolve("src/example"));
    Files.writeString(src.resolve("Greet.java"), source);
    Path classes = Files.createDirectories(dir.resolve("classes"));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    int rc =
        javac.run(
            null,
            null,
            null,
            "-d",
            classes.toString(),
            "-cp",
            System.getProperty("java.class.path"),
            src.resolve("Greet.java").toString());
    assertThat(rc).isZero();
    Path jars = Files.createDirectories(dir.resolve("handlers"));
    try (OutputStream file = Files.newOutputStream(jars.resolve("greet.jar"));
        JarOutputStream jar = new JarOutputStream(file)) {
      try (var compiled = Files.list(classes.resolve("example"))) { // Greet, Greet$Who
        for (Path c : compiled.sorted().toList()) {
          jar.putNextEntry(new JarEntry("example/" + c.getFileName()));
          jar.write(Files.readAllBytes(c));
        }
      }
      jar.putNextEntry(new JarEntry("META-INF/services/dev.conveyor.worker.api.TaskHandler"));
      jar.write("example.Greet\n".getBytes(StandardCharsets.UTF_8));
    }
    return jars;
  }

  @Test
  void aHandlerFromAJarRunsAndItsResultIsInTheEvent(TestBroker broker, @TempDir Path dir)
      throws Exception {
    Path jars = handlerJar(dir, "greet");
    EventLog events = EventLog.open(broker);
    broker.own(
        Worker.start(
            WorkerConfig.defaults(broker.settings())
                .withName("w1")
                .withHandlersDir(Optional.of(jars))));
    String id = Broker.task(broker, "{\"type\":\"greet\",\"payload\":{\"name\":\"ada\"}}");
    TaskEvent done = events.await(id, TaskState.SUCCEEDED);
    assertThat(done.result().asText()).isEqualTo("hello ada on attempt 1");
  }

  @Test
  void aHandlerThatIsAutoCloseableIsClosedWhenItsWorkerStops(TestBroker broker, @TempDir Path dir)
      throws Exception {
    Path mark = dir.resolve("closed");
    Path jars = compiledJar(dir, CLOSEABLE.formatted(mark));
    Worker worker =
        broker.own(
            Worker.start(
                WorkerConfig.defaults(broker.settings())
                    .withName("w1")
                    .withHandlersDir(Optional.of(jars))));
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
