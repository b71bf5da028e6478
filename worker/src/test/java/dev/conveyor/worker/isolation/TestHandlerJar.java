package dev.conveyor.worker.isolation;

import dev.conveyor.worker.HandlerJar;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A {@code --handlers} directory with handlers that end their JVM, compiled and packaged at test
 * time as a user would: {@code exit} (System.exit with {@code {"code":N}}), {@code halt}
 * (Runtime.halt), {@code oom} (allocates until OutOfMemoryError), {@code big} (returns a string of
 * {@code {"kib":N}} KiB), {@code pid} (returns its process id, and prints and reports progress on
 * the way).
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
        public static class Big implements TaskHandler {
          public String type() { return "big"; }
          public Object handle(TaskContext ctx) {
            int kib = ((Number) ctx.payload(java.util.Map.class).get("kib")).intValue();
            return "x".repeat(kib * 1024);
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

  private static final List<String> CLASSES = List.of("Exit", "Halt", "Oom", "Big", "Pid");

  /** Compiles the handlers into {@code dir/handlers/crashers.jar}; returns {@code dir/handlers}. */
  public static Path in(Path dir) throws IOException {
    return HandlerJar.build(
        dir,
        "Crashers",
        SOURCE,
        "crashers.jar",
        CLASSES.stream().map(c -> "example.Crashers$" + c).toList());
  }
}
