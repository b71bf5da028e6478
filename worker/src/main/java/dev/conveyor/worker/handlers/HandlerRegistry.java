package dev.conveyor.worker.handlers;

import dev.conveyor.worker.api.TaskHandler;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The task types this worker can run: the built-ins plus user handlers from jars. It owns them:
 * closing it closes every handler that is {@link AutoCloseable}, then the class loader of the jars
 * (which holds each jar open).
 */
public final class HandlerRegistry implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HandlerRegistry.class);

  private final Map<String, TaskHandler> byType;
  private final URLClassLoader userJars;

  private HandlerRegistry(Map<String, TaskHandler> byType, URLClassLoader userJars) {
    this.byType = Map.copyOf(byType);
    this.userJars = userJars;
  }

  /**
   * @param handlersDir jars whose {@code META-INF/services} list {@link TaskHandler}s
   * @throws IllegalArgumentException for a missing directory, a handler that cannot be loaded or a
   *     type defined twice; a jar that cannot be read is skipped with a warning
   */
  public static HandlerRegistry load(List<Path> execAllow, Optional<Path> handlersDir) {
    return load(ExecPolicy.programsOnly(execAllow), handlersDir);
  }

  /**
   * @param exec what {@code exec} tasks may ask for
   * @param handlersDir jars whose {@code META-INF/services} list {@link TaskHandler}s
   * @throws IllegalArgumentException for a missing directory, a handler that cannot be loaded or a
   *     type defined twice; a jar that cannot be read is skipped with a warning
   */
  public static HandlerRegistry load(ExecPolicy exec, Optional<Path> handlersDir) {
    List<TaskHandler> builtIns = new ArrayList<>(inProcessBuiltIns());
    builtIns.add(new ExecHandler(exec));
    return loadWith(builtIns, handlersDir);
  }

  /**
   * The handlers of a child JVM under {@code --isolation process}: every type but {@code exec},
   * which the worker runs itself (its program is a process of its own already).
   */
  public static HandlerRegistry loadWithoutExec(Optional<Path> handlersDir) {
    return loadWith(inProcessBuiltIns(), handlersDir);
  }

  private static List<TaskHandler> inProcessBuiltIns() {
    return List.of(new NoopHandler(), new SleepHandler(), new SpinHandler(), new FailHandler());
  }

  private static HandlerRegistry loadWith(List<TaskHandler> builtIns, Optional<Path> handlersDir) {
    Map<String, TaskHandler> map = new TreeMap<>();
    for (TaskHandler h : builtIns) {
      map.put(h.type(), h);
    }
    if (handlersDir.isEmpty()) {
      return new HandlerRegistry(map, null);
    }
    URLClassLoader loader = loader(handlersDir.get());
    try {
      for (TaskHandler h : ServiceLoader.load(TaskHandler.class, loader)) {
        TaskHandler previous = map.putIfAbsent(h.type(), h);
        if (previous != null) {
          throw new IllegalArgumentException(
              "task type '"
                  + h.type()
                  + "' is defined twice: "
                  + previous.getClass().getName()
                  + " and "
                  + h.getClass().getName());
        }
      }
      return new HandlerRegistry(map, loader);
    } catch (ServiceConfigurationError | RuntimeException e) {
      new HandlerRegistry(map, loader).close();
      if (e instanceof ServiceConfigurationError) {
        // A listed class that is missing, not a TaskHandler or cannot be constructed.
        throw new IllegalArgumentException("--handlers: " + e.getMessage(), e);
      }
      throw e;
    }
  }

  /**
   * A class loader over the directory's jars. A file that is not a readable jar would otherwise be
   * passed over in silence by the class loader, and its task types be "unknown" only when a task
   * asks for them: it is named in a warning at start instead.
   */
  private static URLClassLoader loader(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--handlers: not a directory: " + dir);
    }
    List<URL> jars = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : files.filter(f -> f.toString().endsWith(".jar")).sorted().toList()) {
        Optional<String> problem = unreadable(p);
        if (problem.isPresent()) {
          log.warn("--handlers: skipping {}: not a readable jar ({})", p, problem.get());
        } else {
          jars.add(p.toUri().toURL());
        }
      }
    } catch (MalformedURLException e) {
      throw new IllegalArgumentException("--handlers: " + e.getMessage());
    } catch (IOException e) {
      throw new IllegalArgumentException("--handlers: cannot read " + dir + ": " + e.getMessage());
    }
    if (jars.isEmpty()) {
      log.warn(
          "--handlers: no readable jar in {}; only the built-in task types are available", dir);
    }
    return new URLClassLoader(jars.toArray(URL[]::new), HandlerRegistry.class.getClassLoader());
  }

  private static Optional<String> unreadable(Path jar) {
    try (JarFile file = new JarFile(jar.toFile(), false)) {
      return Optional.empty();
    } catch (IOException | SecurityException e) {
      return Optional.of(String.valueOf(e.getMessage()));
    }
  }

  public Optional<TaskHandler> find(String type) {
    return Optional.ofNullable(byType.get(type));
  }

  public List<String> types() {
    return List.copyOf(byType.keySet());
  }

  /**
   * The same task types, each handler replaced by {@code wrap}'s (e.g. one that runs it in a child
   * JVM). The view owns nothing: closing it closes only the wrappers that are {@link
   * AutoCloseable}; this registry stays the owner of the handlers and jars.
   */
  public HandlerRegistry wrapping(java.util.function.UnaryOperator<TaskHandler> wrap) {
    Map<String, TaskHandler> wrapped = new TreeMap<>();
    byType.forEach((type, h) -> wrapped.put(type, wrap.apply(h)));
    return new HandlerRegistry(wrapped, null);
  }

  /** The loader of the {@code --handlers} jars, or null. */
  URLClassLoader userJars() {
    return userJars;
  }

  @Override
  public void close() {
    for (TaskHandler h : byType.values()) {
      if (h instanceof AutoCloseable c) {
        try {
          c.close();
        } catch (Exception e) {
          log.warn("closing the handler of type {} failed", h.type(), e);
        }
      }
    }
    if (userJars != null) {
      try {
        userJars.close();
      } catch (IOException e) {
        log.warn("closing the --handlers jars failed: {}", e.toString());
      }
    }
  }
}
