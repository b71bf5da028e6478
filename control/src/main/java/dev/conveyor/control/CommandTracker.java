package dev.conveyor.control;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Follows one control command after it is published: which workers acknowledged it ({@code
 * command.applied}) or refused it ({@code command.refused}), how each task they ended settled, and
 * whether a worker ends itself over a task that ignored a kill ({@code worker.terminating}). Whom
 * to wait for is learnt while the command is already out ({@link #discovered}). Fed from the event
 * consumer thread and the discovery thread; read from the command's thread.
 */
final class CommandTracker {

  /** Something seen, with the milliseconds between publishing the command and receiving it. */
  record Seen<T>(T event, long elapsedMs) {}

  private final String commandId;
  private final Set<String> expectedWorkers = new LinkedHashSet<>();
  private boolean discovered;
  private final Map<String, Seen<CommandApplied>> applied = new TreeMap<>();
  private final Map<String, CommandRefused> refused = new TreeMap<>();
  private final Map<String, Seen<TaskEvent>> settled = new HashMap<>();
  private final Set<String> terminating = new TreeSet<>();
  private long publishedAt = -1;

  CommandTracker(String commandId) {
    this.commandId = commandId;
  }

  /**
   * The live workers are known: each of them is waited for. Until this is called the command is not
   * done, whatever has answered.
   */
  synchronized void discovered(List<String> workers) {
    expectedWorkers.addAll(workers);
    discovered = true;
    notifyAll();
  }

  /** Starts the clock; call right before publishing. Events seen before are ignored. */
  synchronized void publishing() {
    publishedAt = System.nanoTime();
  }

  /** The event listener. */
  synchronized void accept(Event event) {
    if (publishedAt < 0) {
      return;
    }
    switch (event) {
      case Event.Applied a
          when commandId.equals(a.event().command()) && a.event().worker() != null ->
          applied.putIfAbsent(a.event().worker(), seen(a.event()));
      case Event.Refused r
          when commandId.equals(r.event().command()) && r.event().worker() != null ->
          refused.putIfAbsent(r.event().worker(), r.event());
      case Event.Task t when t.event().task() != null && settles(t.event().state()) ->
          settled.putIfAbsent(t.event().task(), seen(t.event()));
      case Event.Worker w
          when WorkerEvent.TERMINATING.equals(w.event().state()) && w.event().worker() != null ->
          terminating.add(w.event().worker());
      default -> {
        return;
      }
    }
    notifyAll();
  }

  /** A task is settled once nothing more will happen to this attempt: requeued or final. */
  static boolean settles(TaskState state) {
    return state != null && (state.isFinal() || state == TaskState.REQUEUED);
  }

  private <T> Seen<T> seen(T event) {
    return new Seen<>(event, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - publishedAt));
  }

  /**
   * Waits until the live workers are known, every one of them acknowledged (or refused) and every
   * task they ended has settled.
   *
   * @return whether that happened within {@code timeout}
   */
  synchronized boolean await(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!done()) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  private boolean done() {
    return discovered
        && expectedWorkers.stream().allMatch(w -> applied.containsKey(w) || refused.containsKey(w))
        && applied.values().stream()
            .flatMap(a -> endedTasks(a.event()))
            .allMatch(settled::containsKey);
  }

  static Stream<String> endedTasks(CommandApplied a) {
    return Stream.concat(nullSafe(a.stopped()).stream(), nullSafe(a.killed()).stream());
  }

  static List<String> nullSafe(List<String> list) {
    return list == null ? List.of() : list;
  }

  /** Acknowledgements by worker name, in name order. */
  synchronized Map<String, Seen<CommandApplied>> applied() {
    return new TreeMap<>(applied);
  }

  /** Refusals by worker name, in name order. */
  synchronized List<CommandRefused> refused() {
    return List.copyOf(refused.values());
  }

  /** Whether the worker announced that it ends itself (a task ignored a kill). */
  synchronized boolean terminating(String worker) {
    return terminating.contains(worker);
  }

  synchronized Optional<Seen<TaskEvent>> settlement(String task) {
    return Optional.ofNullable(settled.get(task));
  }
}
