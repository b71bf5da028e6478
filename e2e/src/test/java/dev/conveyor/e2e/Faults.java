package dev.conveyor.e2e;

import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.testkit.Duplicates;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** What the fault tests (broker restart, kill -9, lost connections) report and explain. */
final class Faults {
  private Faults() {}

  /** The worker's log line for a task that finished but could not be settled. */
  private static final Pattern ACK_LOST =
      Pattern.compile("could not settle \\w+:(\\S+)#\\d+ as Succeeded");

  /** One scenario's figures, printed by {@link #print} and kept in docs/reliability.md. */
  record Figures(
      String scenario,
      int tasks,
      int ranBeforeFault,
      Map<String, Long> ranMoreThanOnce,
      List<String> neverRan,
      List<String> deadLettered,
      Set<String> succeededButNotAcked,
      Duplicates duplicates) {}

  static Figures figures(
      String scenario,
      ExecRuns runs,
      int ranBeforeFault,
      TestBroker broker,
      EventLog events,
      List<ProgramProcess> workers) {
    Set<String> ackLost = ackLost(workers);
    return new Figures(
        scenario,
        runs.ids().size(),
        ranBeforeFault,
        runs.moreThanOnce(),
        runs.neverRan(),
        deadLetters(broker),
        ackLost,
        events.duplicates(scenario, runs.ids(), ackLost));
  }

  static void print(Figures f) {
    System.out.printf(
        "[%s] %d tasks, %d had started when the fault came; %d started more than once %s;"
            + " %d never ran %s; %d dead-lettered %s; %d succeeded but their ack was lost %s%n",
        f.scenario(),
        f.tasks(),
        f.ranBeforeFault(),
        f.ranMoreThanOnce().size(),
        f.ranMoreThanOnce(),
        f.neverRan().size(),
        f.neverRan(),
        f.deadLettered().size(),
        f.deadLettered(),
        f.succeededButNotAcked().size(),
        f.succeededButNotAcked());
  }

  /** Takes the dead letters out of the namespace's dead-letter queue: id (cause) each. */
  static List<String> deadLetters(TestBroker broker) {
    List<String> out = new ArrayList<>();
    for (GetResponse r : broker.drainDead()) {
      Map<String, Object> headers = r.getProps().getHeaders();
      Object cause = headers == null ? null : headers.get(Headers.DEAD_CAUSE);
      out.add(r.getProps().getMessageId() + " (" + cause + ")");
    }
    return out;
  }

  /** The tasks whose worker logged that it finished them but could not settle them. */
  static Set<String> ackLost(List<ProgramProcess> workers) {
    Set<String> out = new TreeSet<>();
    for (ProgramProcess w : workers) {
      Matcher m = ACK_LOST.matcher(w.output());
      while (m.find()) {
        out.add(m.group(1));
      }
    }
    return out;
  }

  static Set<String> finished(EventLog events) {
    return events.tasks().stream()
        .filter(e -> e.state().isFinal())
        .map(TaskEvent::task)
        .collect(Collectors.toSet());
  }

  /** The ids of the dead letters, without their causes. */
  static List<String> deadIds(Figures figures) {
    return figures.deadLettered().stream().map(d -> d.replaceFirst(" \\(.*$", "")).toList();
  }

  /**
   * Dead letters of tasks that never ran. A task that ran and was acked just as the broker stopped
   * may have lost both its ack and its outcome event with the connection (neither is confirmed);
   * the broker then delivers it again to another worker, which cannot tell it from a crash and
   * dead-letters it as {@code worker-lost}. docs/reliability.md explains it. A dead letter of a
   * task that never ran would be a lost task.
   */
  static List<String> deadThatNeverRan(Figures figures, ExecRuns runs) {
    return deadIds(figures).stream().filter(id -> !runs.runs().containsKey(id)).toList();
  }

  static Set<String> succeeded(EventLog events) {
    return events.tasks().stream()
        .filter(e -> e.state() == TaskState.SUCCEEDED)
        .map(TaskEvent::task)
        .collect(Collectors.toSet());
  }

  /** What a failing run needs to be understood: the unfinished tasks and the workers' logs. */
  static void explain(EventLog events, ExecRuns runs, List<ProgramProcess> workers) {
    Map<String, Long> started = runs.runs();
    Set<String> finished = finished(events);
    for (String id : runs.ids()) {
      if (!started.containsKey(id) || !finished.contains(id)) {
        System.out.println(
            "--- "
                + id
                + " started "
                + started.getOrDefault(id, 0L)
                + "x, events: "
                + events.of(id).stream()
                    .map(e -> e.state().wire() + "/" + e.worker() + "/" + e.cause())
                    .toList());
      }
    }
    for (ProgramProcess w : workers) {
      System.out.println("--- " + w + " output:\n" + w.output());
    }
  }
}
