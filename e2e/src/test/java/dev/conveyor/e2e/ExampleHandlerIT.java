package dev.conveyor.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import dev.conveyor.worker.api.TaskHandler;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.ToolProvider;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * examples/handler, built as its pom would build it (against conveyor-api alone) and run by the
 * real worker with {@code --handlers}, in a thread and in a child JVM.
 *
 * <p>It is compiled here with javax.tools rather than by Maven, because the example is not part of
 * the reactor: a fresh machine running {@code mvn verify} has no conveyor-api in its local
 * repository for the example's own build to resolve. The class path is exactly the API artifact
 * this build just made.
 */
@ExtendWith(BrokerExtension.class)
class ExampleHandlerIT {

  private static final Path EXAMPLE = ProgramProcess.repo().resolve("examples/handler");

  @TempDir static Path build;
  private static Path handlers;

  @BeforeAll
  static void buildTheExample() throws IOException {
    handlers = jar(compile());
  }

  private static Path compile() throws IOException {
    Path api = Path.of(codeSource(TaskHandler.class));
    Path classes = Files.createDirectories(build.resolve("classes"));
    List<String> args =
        new ArrayList<>(
            List.of("--release", "21", "-d", classes.toString(), "-cp", api.toString()));
    try (Stream<Path> sources = Files.walk(EXAMPLE.resolve("src/main/java"))) {
      sources.filter(p -> p.toString().endsWith(".java")).forEach(p -> args.add(p.toString()));
    }
    java.io.ByteArrayOutputStream diagnostics = new java.io.ByteArrayOutputStream();
    int rc =
        ToolProvider.getSystemJavaCompiler()
            .run(null, diagnostics, diagnostics, args.toArray(String[]::new));
    assertThat(rc).as("javac " + args + "\n" + diagnostics).isZero();
    return classes;
  }

  private static java.net.URI codeSource(Class<?> type) {
    try {
      return type.getProtectionDomain().getCodeSource().getLocation().toURI();
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** target/greet-handler-1.0.jar as mvn package makes it: the classes and the resources. */
  private static Path jar(Path classes) throws IOException {
    Path dir = Files.createDirectories(build.resolve("handlers"));
    try (OutputStream file = Files.newOutputStream(dir.resolve("greet-handler-1.0.jar"));
        JarOutputStream jar = new JarOutputStream(file)) {
      for (Path root : List.of(classes, EXAMPLE.resolve("src/main/resources"))) {
        try (Stream<Path> files = Files.walk(root)) {
          for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
            jar.putNextEntry(new JarEntry(root.relativize(f).toString().replace('\\', '/')));
            jar.write(Files.readAllBytes(f));
          }
        }
      }
    }
    return dir;
  }

  @Test
  void theExampleDependsOnTheApiAloneAndIsNoModuleOfTheBuild() throws Exception {
    Document pom =
        DocumentBuilderFactory.newInstance()
            .newDocumentBuilder()
            .parse(EXAMPLE.resolve("pom.xml").toFile());
    NodeList deps = pom.getElementsByTagName("dependency");
    assertThat(deps.getLength()).isEqualTo(1);
    Element dep = (Element) deps.item(0);
    assertThat(dep.getElementsByTagName("artifactId").item(0).getTextContent())
        .isEqualTo("conveyor-api");
    assertThat(pom.getElementsByTagName("parent").getLength()).isZero();
    assertThat(Files.readString(ProgramProcess.repo().resolve("pom.xml")))
        .doesNotContain("<module>examples");
  }

  @ParameterizedTest
  @ValueSource(strings = {"thread", "process"})
  void theExampleRunsInTheWorker(String isolation, TestBroker broker) {
    EventLog events = EventLog.open(broker);
    ProgramProcess worker =
        Programs.worker(
            broker, "w-" + isolation, "--handlers", handlers.toString(), "--isolation", isolation);
    Programs.Result published =
        Programs.run(
            broker,
            "producer",
            "publish",
            "--type",
            "greet",
            "--payload",
            "{\"name\":\"ada\",\"times\":3,\"extra\":true}");
    assertThat(published.exitCode()).as(published.output()).isZero();
    String id = published.lines().getFirst().trim();

    TaskEvent done = events.await(id, TaskState.SUCCEEDED, Duration.ofSeconds(90));

    assertThat(done.worker()).isEqualTo("w-" + isolation);
    assertThat(done.result().path("greeting").asText()).isEqualTo("hello ada");
    assertThat(done.result().path("times").asInt()).isEqualTo(3);
    // In a child, what the handler prints reaches the worker's log prefixed with the task id.
    assertThat(worker.output())
        .contains(isolation.equals("process") ? "[" + id + "] greeted ada" : "greeted ada");
  }
}
