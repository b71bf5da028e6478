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
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The task types this worker can run: the built-ins plus user handlers from jars. It owns them:
 * closing it closes every handler that is {@link AutoCloseable}.
 */
public final class HandlerRegistry implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HandlerRegistry.class);

  private final Map<String, TaskHandler> byType;

  private HandlerRegistry(Map<String, TaskHandler> byType) {
    this.byType = Map.copyOf(byType);
  }

  /**
   * @param handlersDir jars whose {@code META-INF/services} list {@link TaskHandler}s
   * @throws IllegalArgumentException for a missing directory or a type defined twice
   */
  public static HandlerRegistry load(List<Path> execAllow, Optional<Path> handlersDir) {
    Map<String, TaskHandler> map = new TreeMap<>();
    for (TaskHandler h :
        List.of(
            new NoopHandler(),
            new SleepHandler(),
            new SpinHandler(),
            new FailHandler(),
            new ExecHandler(execAllow))) {
      map.put(h.type(), h);
    }
    if (handlersDir.isPresent()) {
      for (TaskHandler h : ServiceLoader.load(TaskHandler.class, loader(handlersDir.get()))) {
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
    }
    return new HandlerRegistry(map);
  }

  private static ClassLoader loader(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--handlers: not a directory: " + dir);
    }
    List<URL> jars = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path p : files.filter(f -> f.toString().endsWith(".jar")).sorted().toList()) {
        jars.add(p.toUri().toURL());
      }
    } catch (MalformedURLException e) {
      throw new IllegalArgumentException("--handlers: " + e.getMessage());
    } catch (IOException e) {
      throw new IllegalArgumentException("--handlers: cannot read " + dir + ": " + e.getMessage());
    }
    return new URLClassLoader(jars.toArray(URL[]::new), HandlerRegistry.class.getClassLoader());
  }

  public Optional<TaskHandler> find(String type) {
    return Optional.ofNullable(byType.get(type));
  }

  public List<String> types() {
    return List.copyOf(byType.keySet());
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
  }
}
