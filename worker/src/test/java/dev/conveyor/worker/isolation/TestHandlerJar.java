package dev.conveyor.worker.isolation;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * A {@code --handlers} directory with handlers that end their JVM, compiled and packaged at test
 * time as a user would: {@code exit} (System.exit with {@code {"code":N}}), {@code halt}
 * (Runtime.halt), {@code oom} (allocates until OutOfMemoryError), {@code pid} (returns its process
 * id, and prints and reports progress on the way).
 */
public final class TestHandlerJar {
  private TestHandlerJar() {}

  private static final String SOURCE =
      """
      package example;
      import dev.conveyor.worker.api.TaskContext;
      import dev.conveyor.worker.api.TaskHandler;
      import java.util.ArrayList;
      import java.util.List;
      public class Crashers {
        public static class Exit implements TaskHandler {
          public String type() { return "exit"; }
          public Object handle(TaskContext ctx) {
            System.exit(((Number) ctx.payload(java.util.Map.class).getOrDefault("code", 3)).intValue());
            return null;
          }
        }
        public static class Halt implements TaskHandler {
          public String type() { return "halt"; }
          public Object handle(TaskContext ctx) {
            Runtime.getRuntime().halt(((Number) ctx.payload(java.util.Map.class).getOrDefault("code", 4)).intValue());
            return null;
          }
        }
        public static class Oom implements TaskHandler {
          public String type() { return "oom"; }
          public Object handle(TaskContext ctx) {
            List<long[]> hoard = new ArrayList<>();
            while (true) {
              hoard.add(new long[1 << 20]);
            }
          }
        }
        public static class Pid implements TaskHandler {
          public String type() { return "pid"; }
          public Object handle(TaskContext ctx) {
            System.out.println("pid task " + ctx.taskId() + " says hello");
            ctx.progress(0.5);
            return ProcessHandle.current().pid();
          }
        }
      }
      """;

  private static final List<String> CLASSES = List.of("Exit", "Halt", "Oom", "Pid");

  /** Compiles the handlers into {@code dir/handlers/crashers.jar}; returns {@code dir/handlers}. */
  public static Path in(Path dir) throws IOException {
    Path src = Files.createDirectories(dir.resolve("src/example"));
    Files.writeString(src.resolve("Crashers.java"), SOURCE);
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
            src.resolve("Crashers.java").toString());
    assertThat(rc).isZero();
    Path jars = Files.createDirectories(dir.resolve("handlers"));
    try (OutputStream file = Files.newOutputStream(jars.resolve("crashers.jar"));
        JarOutputStream jar = new JarOutputStream(file);
        Stream<Path> compiled = Files.list(classes.resolve("example"))) {
      for (Path c : compiled.toList()) {
        jar.putNextEntry(new JarEntry("example/" + c.getFileName()));
        jar.write(Files.readAllBytes(c));
      }
      jar.putNextEntry(new JarEntry("META-INF/services/dev.conveyor.worker.api.TaskHandler"));
      StringBuilder services = new StringBuilder();
      CLASSES.forEach(c -> services.append("example.Crashers$").append(c).append('\n'));
      jar.write(services.toString().getBytes(StandardCharsets.UTF_8));
    }
    return jars;
  }
}
