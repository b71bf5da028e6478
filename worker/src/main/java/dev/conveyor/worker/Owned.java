package dev.conveyor.worker;

import java.util.ArrayDeque;
import java.util.Deque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a worker has opened, closed in the reverse order: what was opened last depends on what came
 * before it (the intake on the connection, the connection on nothing). A start that fails half-way
 * closes what it had opened and nothing else. A failure to close one thing is logged and the rest
 * are closed all the same.
 */
final class Owned implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Owned.class);

  private record Resource(String what, AutoCloseable resource) {}

  private final Deque<Resource> opened = new ArrayDeque<>();

  /** Takes ownership of the resource; returns it. */
  synchronized <T extends AutoCloseable> T add(String what, T resource) {
    opened.push(new Resource(what, resource));
    return resource;
  }

  /** Closes each resource once, the last one added first. */
  @Override
  public void close() {
    Resource r;
    while ((r = next()) != null) {
      try {
        r.resource().close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (Exception e) { // one that will not close leaves the rest to close
        log.warn("closing {}: {}", r.what(), e.toString());
      }
    }
  }

  private synchronized Resource next() {
    return opened.poll();
  }
}
