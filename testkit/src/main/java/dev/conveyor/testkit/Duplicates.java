package dev.conveyor.testkit;

import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What a fault test's events say about tasks that ran more than once: how many, and why each ran
 * again. Chaos tests print it and keep it as their result (docs/reliability.md collects the
 * figures).
 *
 * @param tasks how many tasks the test published
 * @param reruns the tasks that reached {@code running} more than once
 * @param succeededTwice the tasks announced {@code succeeded} more than once
 * @param withoutFinal the tasks with no final event at all (lost, or only their events were)
 */
public record Duplicates(
    int tasks, List<Rerun> reruns, List<String> succeededTwice, List<String> withoutFinal) {

  /** Why a task ran again, judged by how its earlier run ended; worst first. */
  public enum Why {
    /**
     * The earlier run had succeeded and the task ran again where it had finished: the broker
     * redelivered it because the ack never reached it (lost with the connection). Without an
     * outcome event, the worker's log tells (see {@link #of(List, Collection, Set)}).
     */
    FINISHED_SAME_WORKER("succeeded, then ran again on the same worker"),
    /** The same, but the redelivery went to another worker. */
    FINISHED_OTHER_WORKER("succeeded, then ran again on another worker"),
    /** The earlier run left no outcome: its worker died, or its outcome event was lost. */
    NO_OUTCOME("its earlier run has no outcome event"),
    /** The earlier run was stopped and requeued (lost connection, shutdown, a retry). */
    INTERRUPTED("its earlier run was stopped and requeued");

    private final String text;

    Why(String text) {
      this.text = text;
    }

    public String text() {
      return text;
    }
  }

  /**
   * @param runs how many {@code running} events it has
   * @param history its events in time order, e.g. {@code running w1#1, succeeded w1, running w2#1}
   */
  public record Rerun(String task, int runs, Why why, String history) {}

  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

  /**
   * @param events every task event of the test, in arrival order
   * @param taskIds the tasks the test published
   */
  public static Duplicates of(List<TaskEvent> events, Collection<String> taskIds) {
    return of(events, taskIds, Set.of());
  }

  /**
   * @param finishedUnannounced tasks known (from a worker's log) to have succeeded without their
   *     success being settled or announced: a run of theirs without an outcome event had finished
   */
  public static Duplicates of(
      List<TaskEvent> events, Collection<String> taskIds, Set<String> finishedUnannounced) {
    Map<String, List<TaskEvent>> byTask = new LinkedHashMap<>();
    for (String id : taskIds) {
      byTask.put(id, new ArrayList<>());
    }
    for (TaskEvent e : events) {
      List<TaskEvent> list = byTask.get(e.task());
      if (list != null) {
        list.add(e);
      }
    }
    List<Rerun> reruns = new ArrayList<>();
    List<String> succeededTwice = new ArrayList<>();
    List<String> withoutFinal = new ArrayList<>();
    for (Map.Entry<String, List<TaskEvent>> entry : byTask.entrySet()) {
      // Workers stamp their events from the same clock; arrival order breaks ties. Events of
      // different workers may arrive out of order (one held its events while it reconnected).
      List<TaskEvent> history = new ArrayList<>(entry.getValue());
      history.sort(Comparator.comparing(e -> e.at() == null ? Instant.MIN : e.at()));
      long runs = count(history, TaskState.RUNNING);
      if (runs > 1) {
        reruns.add(
            new Rerun(
                entry.getKey(),
                (int) runs,
                why(history, finishedUnannounced.contains(entry.getKey())),
                describe(history)));
      }
      if (count(history, TaskState.SUCCEEDED) > 1) {
        succeededTwice.add(entry.getKey());
      }
      if (history.stream().noneMatch(e -> e.state().isFinal())) {
        withoutFinal.add(entry.getKey());
      }
    }
    return new Duplicates(taskIds.size(), reruns, succeededTwice, withoutFinal);
  }

  private static long count(List<TaskEvent> history, TaskState state) {
    return history.stream().filter(e -> e.state() == state).count();
  }

  /**
   * The worst of the reasons for each run after the first.
   *
   * @param finishedUnannounced whether a run without an outcome event is known to have succeeded
   */
  private static Why why(List<TaskEvent> history, boolean finishedUnannounced) {
    Why worst = null;
    for (int i = 0; i < history.size(); i++) {
      TaskEvent run = history.get(i);
      if (run.state() != TaskState.RUNNING) {
        continue;
      }
      TaskEvent next = nextRun(history, i);
      if (next == null) {
        break;
      }
      TaskEvent outcome = outcome(history, i);
      Why why;
      if (outcome == null && !finishedUnannounced) {
        why = Why.NO_OUTCOME;
      } else if (outcome == null || outcome.state() == TaskState.SUCCEEDED) {
        why =
            next.worker() != null && next.worker().equals(run.worker())
                ? Why.FINISHED_SAME_WORKER
                : Why.FINISHED_OTHER_WORKER;
      } else {
        why = Why.INTERRUPTED;
      }
      if (worst == null || why.ordinal() < worst.ordinal()) {
        worst = why;
      }
    }
    return worst;
  }

  private static TaskEvent nextRun(List<TaskEvent> history, int run) {
    for (int j = run + 1; j < history.size(); j++) {
      if (history.get(j).state() == TaskState.RUNNING) {
        return history.get(j);
      }
    }
    return null;
  }

  /** The first event after a run from the same worker that is not another run: its outcome. */
  private static TaskEvent outcome(List<TaskEvent> history, int run) {
    String worker = history.get(run).worker();
    for (int j = run + 1; j < history.size(); j++) {
      TaskEvent e = history.get(j);
      if (worker != null && worker.equals(e.worker())) {
        return e.state() == TaskState.RUNNING ? null : e;
      }
    }
    return null;
  }

  private static String describe(List<TaskEvent> history) {
    return history.stream()
        .map(
            e ->
                e.state().wire()
                    + " "
                    + e.worker()
                    + (e.state() == TaskState.RUNNING ? "#" + e.attempt() : "")
                    + (e.cause() != null && e.state() != TaskState.SUCCEEDED
                        ? " (" + e.cause().wire() + ")"
                        : "")
                    + (e.at() != null ? " " + TIME.format(e.at()) : ""))
        .collect(Collectors.joining(", "));
  }

  /** How many reruns each reason accounts for. */
  public Map<Why, Long> byReason() {
    Map<Why, Long> out = new EnumMap<>(Why.class);
    for (Rerun r : reruns) {
      out.merge(r.why(), 1L, Long::sum);
    }
    return out;
  }

  /** A summary line, then one line per task that ran more than once. */
  public String report(String scenario) {
    StringBuilder sb = new StringBuilder();
    sb.append("[duplicates] ")
        .append(scenario)
        .append(": ")
        .append(tasks)
        .append(" tasks, ")
        .append(reruns.size())
        .append(" ran more than once ")
        .append(
            byReason().entrySet().stream()
                .map(e -> e.getValue() + " " + e.getKey().name().toLowerCase().replace('_', '-'))
                .collect(Collectors.joining(", ", "(", ")")))
        .append(", ")
        .append(succeededTwice.size())
        .append(" succeeded more than once, ")
        .append(withoutFinal.size())
        .append(" without a final event");
    for (Rerun r : reruns) {
      sb.append("\n  ")
          .append(r.task())
          .append(" ran ")
          .append(r.runs())
          .append("x, ")
          .append(r.why().text())
          .append(": ")
          .append(r.history());
    }
    for (String id : withoutFinal) {
      sb.append("\n  ").append(id).append(" has no final event");
    }
    return sb.toString();
  }
}
