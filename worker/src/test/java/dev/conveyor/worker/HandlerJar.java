package dev.conveyor.worker;

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

/** A handler jar built as a user would: one source file compiled, packaged with its services. */
public final class HandlerJar {
  private HandlerJar() {}

  /**
   * Compiles {@code source} (class {@code example.<className>}, against this test's class path)
   * into {@code dir/handlers/<jarName>} with a service entry for each of {@code handlers}.
   *
   * @return {@code dir/handlers}, for {@code --handlers}
   */
  public static Path build(
      Path dir, String className, String source, String jarName, List<String> handlers)
      throws IOException {
    Path src = Files.createDirectories(dir.resolve("src/example"));
    Path file = src.resolve(className + ".java");
    Files.writeString(file, source);
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
            file.toString());
    assertThat(rc).as("javac of " + file).isZero();
    Path jars = Files.createDirectories(dir.resolve("handlers"));
    try (OutputStream out = Files.newOutputStream(jars.resolve(jarName));
        JarOutputStream jar = new JarOutputStream(out);
        Stream<Path> compiled = Files.list(classes.resolve("example"))) {
      for (Path c : compiled.sorted().toList()) {
        jar.putNextEntry(new JarEntry("example/" + c.getFileName()));
        jar.write(Files.readAllBytes(c));
      }
      jar.putNextEntry(new JarEntry("META-INF/services/dev.conveyor.worker.api.TaskHandler"));
      StringBuilder services = new StringBuilder();
      handlers.forEach(h -> services.append(h).append('\n'));
      jar.write(services.toString().getBytes(StandardCharsets.UTF_8));
    }
    return jars;
  }
}
