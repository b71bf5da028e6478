package dev.conveyor.dashboard;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.protocol.wire.WorkerStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What the dashboard knows about the namespace, built only from what the broker tells it: events
 * (task lifecycle, worker heartbeats, command acknowledgements) and the workers' answers to the
 * dashboard's own status rounds. One instance per server, fed from the broker's consumer thread and
 * read by the page renderer; every method is synchronized. {@link #version()} changes whenever
 * anything shown changes.
 */
public final class Fleet {

  /** A worker as last seen. */
  public record WorkerView(
      String name,
      String host,
      Long pid,
      Integer concurrency,
      Boolean paused,
      String isolation,
      List<String> queues,
      String state,
      Instant lastSeen) {}

  /** A running task; {@code stage} and {@code progress} come from the latest heartbeat. */
  public record TaskView(
      String id,
      String type,
      String worker,
      Integer attempt,
      Instant startedAt,
      Instant deadline,
      String stage,
      Double progress) {}

  /** A task whose attempt ended (the last {@value #FINISHED} are kept). */
  public record Finished(
      String id, String type, String worker, String state, String cause, Instant at) {}

  /** One event as the tail and the search show it. */
  public record EventView(
      long seq,
      Instant at,
      String kind,
      String task,
      String type,
      String state,
      String worker,
      String cause,
      String reason,
      String issuedBy) {}

  /** A command this dashboard sent, and what each worker said about it. */
  public record CommandView(ControlMessage message, Map<String, String> answers) {}

  static final int FINISHED = 50;
  static final int EVENTS = 1000;
  static final int COMMANDS = 20;

  /** Seconds of outcome counts kept for the chart. */
  public static final int CHART_SECONDS = 900;

  private final Clock clock;
  private final Map<String, WorkerView> workers = new TreeMap<>();
  private final Map<String, TaskView> running = new LinkedHashMap<>();
  private final Deque<Finished> finished = new ArrayDeque<>();
  private final Deque<EventView> events = new ArrayDeque<>();
  private final LinkedHashMap<String, CommandView> commands = new LinkedHashMap<>();
  private final Set<String> queues = new TreeSet<>(Set.of("default"));
  private final long[][] outcomes = new long[3][CHART_SECONDS];
  private long chartSecond;
  private long seq;
  private long version;

  public Fleet(Clock clock) {
    this.clock = clock;
    this.chartSecond = clock.instant().getEpochSecond();
  }

  public synchronized long version() {
    return version;
  }

  /** Takes in one event from {@code ns.events}. */
  public synchronized void accept(Event event) {
    switch (event) {
      case Event.Task t -> task(t.event());
      case Event.Worker w -> worker(w.event());
      case Event.Applied a -> applied(a.event());
      case Event.Refused r -> refused(r.event());
    }
    version++;
  }

  private void task(TaskEvent e) {
    if (e.task() == null || e.state() == null) {
      return;
    }
    if (e.queue() != null) {
      queues.add(e.queue());
    }
    record(
        "task",
        e.task(),
        e.type(),
        e.state().wire(),
        e.worker(),
        cause(e),
        e.reason(),
        e.issuedBy());
    if (e.state() == TaskState.RUNNING) {
      TaskView old = running.get(e.task());
      running.put(
          e.task(),
          new TaskView(
              e.task(),
              e.type(),
              e.worker(),
              e.attempt(),
              e.at() != null ? e.at() : clock.instant(),
              old == null ? null : old.deadline(),
              old == null ? null : old.stage(),
              old == null ? null : old.progress()));
      return;
    }
    TaskView was = running.remove(e.task());
    if (e.state() != TaskState.REQUEUED) {
      count(e.state());
    }
    finished.addFirst(
        new Finished(
            e.task(),
            e.type() != null ? e.type() : was == null ? null : was.type(),
            e.worker(),
            e.state().wire(),
            cause(e),
            e.at() != null ? e.at() : clock.instant()));
    while (finished.size() > FINISHED) {
      finished.removeLast();
    }
  }

  private static String cause(TaskEvent e) {
    return e.cause() == null ? null : e.cause().wire();
  }

  private void worker(WorkerEvent e) {
    if (e.worker() == null) {
      return;
    }
    record("worker", null, null, e.state(), e.worker(), null, null, null);
    WorkerView old = workers.get(e.worker());
    workers.put(
        e.worker(),
        new WorkerView(
            e.worker(),
            e.host() != null ? e.host() : old == null ? null : old.host(),
            e.pid() != null ? e.pid() : old == null ? null : old.pid(),
            old == null ? null : old.concurrency(),
            old == null ? null : old.paused(),
            old == null ? null : old.isolation(),
            old == null ? List.of() : old.queues(),
            e.state(),
            e.at() != null ? e.at() : clock.instant()));
    if (e.running() != null) {
      running(e.worker(), e.running(), e.at());
    } else if (e.tasks() != null && WorkerEvent.HEARTBEAT.equals(e.state())) {
      Set<String> ids = new HashSet<>(e.tasks());
      running.values().removeIf(t -> e.worker().equals(t.worker()) && !ids.contains(t.id()));
    }
  }

  /** What a worker says runs on it now: the truth for that worker, as of {@code at}. */
  private void running(String worker, List<WorkerStatus.RunningTask> tasks, Instant at) {
    Set<String> ids = new HashSet<>();
    for (WorkerStatus.RunningTask r : tasks) {
      if (r == null || r.id() == null) {
        continue; // nothing to show it by: not from a worker of ours
      }
      ids.add(r.id());
      running.put(
          r.id(),
          new TaskView(
              r.id(),
              r.type(),
              worker,
              r.attempt(),
              r.startedAt(),
              r.deadline(),
              r.stage(),
              r.progress()));
    }
    // A task that started after the worker took this picture is kept.
    running
        .values()
        .removeIf(
            t ->
                worker.equals(t.worker())
                    && !ids.contains(t.id())
                    && (at == null || t.startedAt() == null || !t.startedAt().isAfter(at)));
  }

  /** A worker's answer to a status round. */
  public synchronized void status(WorkerStatus s) {
    if (s.worker() == null) {
      return;
    }
    if (s.queues() != null) {
      queues.addAll(s.queues());
    }
    WorkerView old = workers.get(s.worker());
    Instant now = clock.instant();
    workers.put(
        s.worker(),
        new WorkerView(
            s.worker(),
            s.host(),
            s.pid(),
            s.concurrency(),
            s.paused(),
            s.isolation(),
            s.queues() == null ? List.of() : s.queues(),
            old == null || "status".equals(old.state()) ? "running" : old.state(),
            now));
    if (s.tasks() != null) {
      running(s.worker(), s.tasks(), now);
    }
    version++;
  }

  /** Forgets workers not heard from for {@code silence} (a worker that was killed says nothing). */
  public synchronized void forgetSilent(Duration silence) {
    Instant cutoff = clock.instant().minus(silence);
    Set<String> gone = new HashSet<>();
    workers
        .values()
        .removeIf(
            w -> {
              boolean old = w.lastSeen().isBefore(cutoff);
              if (old) {
                gone.add(w.name());
              }
              return old;
            });
    if (!gone.isEmpty()) {
      running.values().removeIf(t -> gone.contains(t.worker()));
      version++;
    }
  }

  /** Remembers a command this dashboard published, to show its acknowledgements. */
  public synchronized void sent(ControlMessage m) {
    commands.put(m.id(), new CommandView(m, new TreeMap<>()));
    while (commands.size() > COMMANDS) {
      commands.remove(commands.keySet().iterator().next());
    }
    version++;
  }

  private void applied(CommandApplied a) {
    record("command", null, null, "applied", a.worker(), null, summary(a), a.issuedBy());
    CommandView c = commands.get(a.command());
    if (c != null && a.worker() != null) {
      c.answers().put(a.worker(), summary(a));
    }
  }

  static String summary(CommandApplied a) {
    List<String> parts = new ArrayList<>();
    add(parts, "stopped", a.stopped());
    add(parts, "killed", a.killed());
    add(parts, "revoked", a.revoked());
    if (parts.isEmpty()) {
      parts.add(a.paused() ? "paused" : "no task matched");
    }
    return String.join("; ", parts);
  }

  private static void add(List<String> parts, String verb, List<String> ids) {
    if (ids != null && !ids.isEmpty()) {
      parts.add(verb + " " + String.join(", ", ids));
    }
  }

  private void refused(CommandRefused r) {
    record("command", null, null, "refused", r.worker(), null, r.reason(), r.issuedBy());
    CommandView c = commands.get(r.command());
    if (c != null && r.worker() != null) {
      c.answers().put(r.worker(), "refused: " + r.reason());
    }
  }

  private void record(
      String kind,
      String task,
      String type,
      String state,
      String worker,
      String cause,
      String reason,
      String issuedBy) {
    events.addFirst(
        new EventView(
            ++seq, clock.instant(), kind, task, type, state, worker, cause, reason, issuedBy));
    while (events.size() > EVENTS) {
      events.removeLast();
    }
  }

  private void count(TaskState state) {
    int series =
        switch (state) {
          case SUCCEEDED -> 0;
          case CANCELLED -> 2;
          default -> 1;
        };
    advanceChart();
    outcomes[series][(int) (chartSecond % CHART_SECONDS)]++;
  }

  /** Zeroes the seconds that passed since the chart was last touched. */
  private void advanceChart() {
    long now = clock.instant().getEpochSecond();
    for (long s = chartSecond + 1; s <= now && s <= chartSecond + CHART_SECONDS; s++) {
      for (long[] series : outcomes) {
        series[(int) (s % CHART_SECONDS)] = 0;
      }
    }
    chartSecond = Math.max(chartSecond, now);
  }

  /**
   * Outcomes per second over the last {@value #CHART_SECONDS} seconds, oldest first: [epoch
   * seconds, succeeded, failed (failed, timed-out, dead, rejected, expired), cancelled].
   */
  public synchronized long[][] chart() {
    advanceChart();
    long[][] out = new long[4][CHART_SECONDS];
    for (int i = 0; i < CHART_SECONDS; i++) {
      long second = chartSecond - CHART_SECONDS + 1 + i;
      out[0][i] = second;
      for (int s = 0; s < 3; s++) {
        out[s + 1][i] = outcomes[s][(int) (second % CHART_SECONDS)];
      }
    }
    return out;
  }

  public synchronized List<WorkerView> workers() {
    return List.copyOf(workers.values());
  }

  /** Running tasks, oldest first. */
  public synchronized List<TaskView> running() {
    List<TaskView> out = new ArrayList<>(running.values());
    out.sort(
        Comparator.comparing(
                TaskView::startedAt, Comparator.nullsLast(Comparator.<Instant>naturalOrder()))
            .thenComparing(TaskView::id));
    return out;
  }

  public synchronized int busy(String worker) {
    return (int) running.values().stream().filter(t -> worker.equals(t.worker())).count();
  }

  /** Running tasks per worker name, counted in one pass. */
  public synchronized Map<String, Integer> busy() {
    Map<String, Integer> out = new HashMap<>();
    for (TaskView t : running.values()) {
      if (t.worker() != null) {
        out.merge(t.worker(), 1, Integer::sum);
      }
    }
    return out;
  }

  public synchronized List<Finished> finished() {
    return List.copyOf(finished);
  }

  /** Recent events, newest first. */
  public synchronized List<EventView> events() {
    return List.copyOf(events);
  }

  /** Events after {@code afterSeq}, oldest first. */
  public synchronized List<EventView> eventsAfter(long afterSeq) {
    List<EventView> out = new ArrayList<>();
    for (EventView e : events) {
      if (e.seq() <= afterSeq) {
        break;
      }
      out.addFirst(e);
    }
    return out;
  }

  public synchronized long lastSeq() {
    return seq;
  }

  /** Commands sent from here, newest first. */
  public synchronized List<CommandView> commands() {
    List<CommandView> out = new ArrayList<>();
    for (CommandView c : commands.values()) {
      out.addFirst(new CommandView(c.message(), new TreeMap<>(c.answers())));
    }
    return out;
  }

  public synchronized Set<String> queues() {
    return new TreeSet<>(queues);
  }

  /** Everything known about one task id: running, finished, events. */
  public synchronized Search search(String id) {
    return new Search(
        id,
        running.get(id),
        finished.stream().filter(f -> id.equals(f.id())).toList(),
        events.stream().filter(e -> id.equals(e.task())).toList());
  }

  /** The answer to a search by task id. */
  public record Search(
      String id, TaskView running, List<Finished> finished, List<EventView> events) {}
}
