package dev.conveyor.producer;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Collects the final events of the tasks one run published. Events arrive on the connection's
 * thread and may come before publishing has finished, so they are queued and handed out on the
 * waiting thread, which also owns stdout.
 */
final class WaitTracker {

  /** Binding keys for the states after which no event follows for a task. */
  static final List<String> FINAL_KEYS =
      Arrays.stream(TaskState.values())
          .filter(TaskState::isFinal)
          .map(TaskState::routingKey)
          .toList();

  // id -> publish order; written by the publishing thread only, read by the event thread.
  private final Map<String, Integer> expected = new ConcurrentHashMap<>();
  private final BlockingQueue<TaskEvent> finals = new LinkedBlockingQueue<>();

  /** Registers a task id; call before publishing it so that its outcome cannot slip past. */
  void expect(String id) {
    expected.putIfAbsent(id, expected.size());
  }

  /** The event listener: keeps final events of expected tasks, ignores everything else. */
  void offer(Event event) {
    if (event instanceof Event.Task(TaskEvent e)
        && e.state() != null
        && e.state().isFinal()
        && e.task() != null
        && expected.containsKey(e.task())) {
      finals.add(e);
    }
  }

  /**
   * Waits until every expected task has a final event or the timeout passes. The first final event
   * of each task counts; a redelivered task's later duplicates are ignored.
   *
   * @param onOutcome called on this thread with each task's final event, as it arrives
   */
  Result await(Duration timeout, Consumer<TaskEvent> onOutcome, Consumer<Result> onProgress)
      throws InterruptedException {
    Set<String> waiting = new HashSet<>(expected.keySet());
    int total = waiting.size();
    Map<TaskState, Integer> outcomes = new EnumMap<>(TaskState.class);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!waiting.isEmpty()) {
      long left = deadline - System.nanoTime();
      TaskEvent e = left > 0 ? finals.poll(left, TimeUnit.NANOSECONDS) : null;
      if (e == null) {
        break;
      }
      if (waiting.remove(e.task())) {
        outcomes.merge(e.state(), 1, Integer::sum);
        onOutcome.accept(e);
        onProgress.accept(new Result(total, outcomes, List.of()));
      }
    }
    List<String> missing = waiting.stream().sorted(Comparator.comparing(expected::get)).toList();
    return new Result(total, outcomes, missing);
  }

  /**
   * @param outcomes how many tasks ended in each final state
   * @param missing tasks without a final event when the wait ended, in publish order
   */
  record Result(int total, Map<TaskState, Integer> outcomes, List<String> missing) {
    Result {
      EnumMap<TaskState, Integer> copy = new EnumMap<>(TaskState.class);
      copy.putAll(outcomes);
      outcomes = Collections.unmodifiableMap(copy);
      missing = List.copyOf(missing);
    }

    int succeeded() {
      return outcomes.getOrDefault(TaskState.SUCCEEDED, 0);
    }

    int finished() {
      return outcomes.values().stream().mapToInt(Integer::intValue).sum();
    }

    int other() {
      return finished() - succeeded();
    }

    boolean allSucceeded() {
      return succeeded() == total;
    }

    /**
     * One line for the end of a wait, e.g. {@code waited 12 tasks: 10 succeeded, 1 dead, 1
     * cancelled (3.2 s)}: the count of each final state (in the order of {@link TaskState}), then
     * the tasks that had none.
     */
    String summary(Duration took) {
      StringBuilder sb =
          new StringBuilder("waited ").append(total).append(total == 1 ? " task" : " tasks");
      String sep = ": ";
      for (Map.Entry<TaskState, Integer> e : outcomes.entrySet()) {
        sb.append(sep).append(e.getValue()).append(' ').append(e.getKey().wire());
        sep = ", ";
      }
      if (!missing.isEmpty()) {
        sb.append(sep).append(missing.size()).append(" without an outcome");
      }
      return sb.append(String.format(Locale.ROOT, " (%.1f s)", took.toMillis() / 1000.0))
          .toString();
    }
  }
}
