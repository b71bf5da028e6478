package dev.conveyor.worker.messaging;

import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.worker.control.Pausable;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's intake: its task queues' consumers, paused and resumed together (by {@code control
 * pause|resume} and at shutdown). Once closing, nothing resumes them.
 */
public final class Consumers implements Pausable, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Consumers.class);

  private final List<TaskConsumer> consumers;
  private volatile boolean paused;
  private volatile boolean closing;

  public Consumers(List<TaskConsumer> consumers) {
    this.consumers = List.copyOf(consumers);
  }

  public void start() throws IOException {
    for (TaskConsumer c : consumers) {
      c.start();
    }
  }

  @Override
  public synchronized void pause() {
    paused = true;
    for (TaskConsumer c : consumers) {
      try {
        c.pause();
      } catch (IOException | RuntimeException e) {
        log.warn("could not pause consumer: {}", BrokerErrors.reason(e));
      }
    }
  }

  @Override
  public synchronized void resume() {
    if (closing) {
      return;
    }
    paused = false;
    for (TaskConsumer c : consumers) {
      try {
        c.resume();
      } catch (IOException | RuntimeException e) {
        log.warn("could not resume consumer: {}", BrokerErrors.reason(e));
      }
    }
  }

  /**
   * Takes tasks again once amqp-client has recovered the connection, unless paused ({@link
   * TaskConsumer#consumeAgain}).
   */
  public synchronized void consumeAgain() {
    for (TaskConsumer c : consumers) {
      try {
        c.consumeAgain();
      } catch (IOException | RuntimeException e) {
        // A channel the broker closes for it is reopened by the consumer; with the connection, the
        // next recovery comes back here.
        log.warn("could not consume again: {}", BrokerErrors.reason(e));
      }
    }
  }

  @Override
  public boolean paused() {
    return paused;
  }

  /** Stops taking tasks for good: the worker is shutting down. */
  public synchronized void stopForGood() {
    closing = true;
    pause();
  }

  /** Consuming every queue, or paused on purpose. */
  public boolean healthy() {
    return paused || consumers.stream().allMatch(TaskConsumer::consuming);
  }

  @Override
  public void close() {
    consumers.forEach(TaskConsumer::close);
  }
}
