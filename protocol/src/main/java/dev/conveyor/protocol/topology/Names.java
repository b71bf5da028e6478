package dev.conveyor.protocol.topology;

import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/** Every name Conveyor uses on the broker, derived from one namespace (docs/design.md). */
public record Names(String namespace) {

  private static final Pattern VALID = Pattern.compile("[A-Za-z0-9_.\\-]{1,100}");

  public Names {
    if (namespace == null || !VALID.matcher(namespace).matches()) {
      throw new IllegalArgumentException(
          "namespace must be 1-100 characters of letters, digits, '.', '_' or '-': " + namespace);
    }
  }

  /** Throws for a queue name the broker or our naming would choke on. */
  public static String checkQueueName(String queue) {
    if (queue == null || !VALID.matcher(queue).matches()) {
      throw new IllegalArgumentException(
          "queue name must be 1-100 characters of letters, digits, '.', '_' or '-': " + queue);
    }
    return queue;
  }

  /**
   * The task queue behind a broker queue name ({@code ns.q.default} or {@code ns.retry.default} is
   * {@code default}), or empty for a name that is neither.
   */
  public Optional<String> queueOf(String brokerName) {
    if (brokerName != null) {
      for (String prefix : List.of(namespace + ".q.", namespace + ".retry.")) {
        if (brokerName.startsWith(prefix) && brokerName.length() > prefix.length()) {
          return Optional.of(brokerName.substring(prefix.length()));
        }
      }
    }
    return Optional.empty();
  }

  public String tasksExchange() {
    return namespace + ".tasks";
  }

  public String taskQueue(String queue) {
    return namespace + ".q." + checkQueueName(queue);
  }

  public String deadExchange() {
    return namespace + ".dead";
  }

  public String deadQueue() {
    return namespace + ".dead";
  }

  public String controlExchange() {
    return namespace + ".control";
  }

  /**
   * A stream fed from the control exchange that keeps the commands revoking tasks for 25 hours, so
   * that a worker started after a stop for a queued task still honours it.
   */
  public String controlLog() {
    return namespace + ".control.log";
  }

  /**
   * A direct exchange between the control exchange and its log: it passes on commands published
   * with an empty routing key (those that revoke tasks) and drops the rest, such as the status
   * rounds a dashboard sends every few seconds, which would fill the log that every worker reads
   * ({@link Topology#routingKey}).
   */
  public String controlLogged() {
    return namespace + ".control.logged";
  }

  public String eventsExchange() {
    return namespace + ".events";
  }

  /**
   * A worker's queue of other workers' {@code task.requeued} events, which outlives its connection
   * so that none published while it reconnects is missed.
   */
  public String requeuedFor(String worker) {
    return namespace + ".requeued." + worker;
  }

  /**
   * A worker's queue of commands, bound to the control exchange. It outlives the worker's
   * connection, so that a command published while the worker reconnects is heard once it is back.
   */
  public String commandsFor(String worker) {
    return namespace + ".commands." + worker;
  }

  /**
   * An exclusive queue a worker holds while it is connected: its claim on its name, which a second
   * worker of the same name cannot take.
   */
  public String workerName(String worker) {
    return namespace + ".worker." + worker;
  }

  /**
   * A queue no message goes through: every worker consumes it for as long as it hears commands, so
   * its consumer count is the number of workers listening, which a status round waits for instead
   * of waiting for answers to stop coming.
   */
  public String workers() {
    return namespace + ".workers";
  }

  /** Where a retry waits out its delay before it is dead-lettered back to its task queue. */
  public String retryQueue(String queue) {
    return namespace + ".retry." + checkQueueName(queue);
  }
}
