package dev.conveyor.control;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.conveyor.control.CommandTracker.Seen;
import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.Wire;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import picocli.CommandLine;

/** What became of one stop/kill/pause/resume, per worker; printed for people or as JSON. */
@JsonInclude(JsonInclude.Include.NON_NULL)
record CommandReport(
    String command,
    Command verb,
    Target target,
    boolean requeue,
    String issuedBy,
    boolean waited,
    String waitedFor,
    List<String> live,
    List<WorkerReport> workers,
    List<String> noAnswer,
    List<Refused> refused,
    List<String> revoked,
    List<String> notRunning,
    List<String> unsettled,
    Integer silentWorkers,
    boolean ok) {

  /** Why a worker the broker counts as hearing commands may not answer a status round. */
  static final String WHY_SILENT =
      "stuck, no longer bound to the control exchange, or a lost connection the broker has not"
          + " closed yet";

  /** One worker's acknowledgement; {@code paused} only for pause and resume. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  record WorkerReport(
      String worker,
      Long appliedMs,
      List<TaskOutcome> stopped,
      List<TaskOutcome> killed,
      List<String> revoked,
      Boolean paused,
      Boolean terminating) {}

  /** A worker that would not obey the command, and why. */
  record Refused(String worker, String reason) {}

  /** How a task the worker ended settled; {@code state} is null if it did not within the wait. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  record TaskOutcome(String task, String state, String cause, Long elapsedMs) {}

  /**
   * @param discoveryRefusals workers that refused the status round run beside the command; with
   *     {@code --no-wait} they stand for the command's refusal, which is not waited for
   * @param silent workers the broker counted listening that did not answer that round
   */
  static CommandReport of(
      ControlMessage message,
      List<String> discovered,
      List<CommandRefused> discoveryRefusals,
      int silent,
      CommandTracker tracker,
      boolean waited,
      Duration waitTimeout) {
    Map<String, Seen<CommandApplied>> applied = tracker.applied();
    Map<String, CommandRefused> refusals = new TreeMap<>();
    (waited ? tracker.refused() : discoveryRefusals)
        .forEach(r -> refusals.putIfAbsent(r.worker(), r));
    Set<String> workers = new TreeSet<>(discovered);
    workers.addAll(applied.keySet());
    List<String> named =
        message.target() instanceof Target.Workers w ? w.names() : List.<String>of();
    workers.addAll(named);
    discoveryRefusals.forEach(r -> workers.add(r.worker()));

    List<WorkerReport> reports = new ArrayList<>();
    List<String> noAnswer = new ArrayList<>();
    List<String> unsettled = new ArrayList<>();
    Set<String> ended = new TreeSet<>();
    for (String worker : workers) {
      Seen<CommandApplied> seen = applied.get(worker);
      if (seen != null) {
        reports.add(workerReport(message.command(), seen, tracker, unsettled));
        CommandTracker.endedTasks(seen.event()).forEach(ended::add);
      } else if (refusals.containsKey(worker)) {
        continue;
      } else if (waited || !discovered.contains(worker)) {
        noAnswer.add(worker);
      }
    }
    List<Refused> refused =
        refusals.values().stream().map(r -> new Refused(r.worker(), r.reason())).toList();
    // Named tasks that ran nowhere: a stop or kill revokes them for when they arrive; with
    // --requeue there is nothing to requeue and nothing is revoked. Not when every worker that
    // answered refused the command: none of them will honour it.
    List<String> idle = List.of();
    boolean someoneObeys = !reports.isEmpty() || refused.isEmpty();
    if (waited && someoneObeys && message.target() instanceof Target.Tasks tasks) {
      idle = tasks.ids().stream().filter(id -> !ended.contains(id)).distinct().toList();
    }
    List<String> revoked = message.requeue() ? List.of() : idle;
    List<String> notRunning = message.requeue() ? idle : List.of();
    return new CommandReport(
        message.id(),
        message.command(),
        message.target(),
        message.requeue(),
        message.issuedBy(),
        waited,
        waited ? Durations.format(waitTimeout) : null,
        List.copyOf(discovered),
        reports,
        noAnswer,
        refused,
        revoked,
        notRunning,
        unsettled,
        silent > 0 ? silent : null,
        // --no-wait asked not to follow the tasks: their settling is not this command's result.
        noAnswer.isEmpty() && refused.isEmpty() && (!waited || unsettled.isEmpty()));
  }

  private static WorkerReport workerReport(
      Command verb, Seen<CommandApplied> seen, CommandTracker tracker, List<String> unsettled) {
    CommandApplied a = seen.event();
    boolean pauseVerb = verb == Command.PAUSE || verb == Command.RESUME;
    return new WorkerReport(
        a.worker(),
        seen.elapsedMs(),
        outcomes(CommandTracker.nullSafe(a.stopped()), tracker, unsettled),
        outcomes(CommandTracker.nullSafe(a.killed()), tracker, unsettled),
        CommandTracker.nullSafe(a.revoked()),
        pauseVerb ? a.paused() : null,
        tracker.terminating(a.worker()) ? Boolean.TRUE : null);
  }

  private static List<TaskOutcome> outcomes(
      List<String> tasks, CommandTracker tracker, List<String> unsettled) {
    List<TaskOutcome> out = new ArrayList<>();
    for (String task : tasks) {
      var settlement = tracker.settlement(task);
      if (settlement.isPresent()) {
        TaskEvent e = settlement.get().event();
        out.add(
            new TaskOutcome(
                task,
                e.state().wire(),
                e.cause() == null ? null : e.cause().wire(),
                settlement.get().elapsedMs()));
      } else {
        unsettled.add(task);
        out.add(new TaskOutcome(task, null, null, null));
      }
    }
    return out;
  }

  /**
   * Prints the report (JSON or text) and returns the exit code: 0 when every worker answered and
   * obeyed and every task settled, else 1.
   */
  int emit(CommandLine commandLine, boolean json) {
    if (json) {
      PrintWriter out = commandLine.getOut();
      out.println(Wire.toJson(this));
      out.flush();
    } else {
      print(commandLine.getOut(), commandLine.getErr());
    }
    return ok ? ExitCodes.OK : ExitCodes.FAILURE;
  }

  /** The report for people: one line per worker, then tasks that ran nowhere. */
  void print(PrintWriter out, PrintWriter err) {
    String verbWord = verb.wire();
    if (!waited) {
      out.println(
          live.isEmpty()
              ? (refused.isEmpty() ? "no live workers answered; " : "")
                  + verbWord
                  + " "
                  + command
                  + " published"
              : verbWord
                  + " "
                  + command
                  + " sent to "
                  + live.size()
                  + " live worker(s): "
                  + String.join(", ", live));
    } else if (workers.isEmpty() && noAnswer.isEmpty() && refused.isEmpty()) {
      out.println("no live workers answered; " + verbWord + " " + command + " published");
    } else {
      out.println(verbWord + " " + command + " (issued by " + issuedBy + ")");
    }
    for (WorkerReport w : workers) {
      out.println(w.worker() + ": " + describe(w));
    }
    for (Refused r : refused) {
      out.println(r.worker() + ": refused (" + r.reason() + ")");
    }
    for (String w : noAnswer) {
      out.println(w + ": did not answer" + (waitedFor == null ? "" : " within " + waitedFor));
    }
    if (silentWorkers != null) {
      out.println(
          silentWorkers
              + " more worker(s) hear commands, by the broker's count, but did not answer: "
              + WHY_SILENT
              + "; this "
              + verbWord
              + " may not have reached them");
    }
    for (String task : revoked) {
      out.println(task + ": not running; revoked, will be cancelled when it arrives");
    }
    for (String task : notRunning) {
      out.println(task + ": not running; nothing to requeue");
    }
    if (!ok) {
      List<String> problems = new ArrayList<>();
      if (!noAnswer.isEmpty()) {
        problems.add("no answer from " + String.join(", ", noAnswer));
      }
      if (!unsettled.isEmpty()) {
        problems.add("not settled in time: " + String.join(", ", unsettled));
      }
      problems.addAll(Refusals.lines(refused));
      err.println("control " + verbWord + ": " + String.join("; ", problems));
    }
    out.flush();
    err.flush();
  }

  private static String describe(WorkerReport w) {
    String elapsed = " (" + w.appliedMs() + " ms)";
    if (w.paused() != null) {
      return (w.paused() ? "paused" : "taking tasks") + elapsed;
    }
    if (w.stopped().isEmpty() && w.killed().isEmpty()) {
      return "nothing matched" + elapsed;
    }
    List<String> parts = new ArrayList<>();
    if (!w.stopped().isEmpty()) {
      parts.add("stopped " + tasks(w.stopped()));
    }
    if (!w.killed().isEmpty()) {
      parts.add("killed " + tasks(w.killed()));
    }
    if (Boolean.TRUE.equals(w.terminating())) {
      parts.add("worker terminating: a task did not end within its kill grace");
    }
    return String.join("; ", parts);
  }

  private static String tasks(List<TaskOutcome> outcomes) {
    return outcomes.size()
        + " task(s): "
        + outcomes.stream().map(CommandReport::outcome).collect(Collectors.joining(", "));
  }

  private static String outcome(TaskOutcome t) {
    if (t.state() == null) {
      return t.task() + " not settled";
    }
    return t.task()
        + " "
        + t.state()
        + (t.cause() == null ? "" : " (" + t.cause() + ")")
        + " "
        + t.elapsedMs()
        + " ms";
  }
}
