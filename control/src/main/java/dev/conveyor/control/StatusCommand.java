package dev.conveyor.control;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conveyor.control.ControlSession.Need;
import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.cli.FlagChecks;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerStatus;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code control status}: asks every live worker what it is doing. */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description = {
      "Shows the live workers and their running tasks: age, deadline and escalation stage.",
      "Workers answer a broadcast; whoever has not answered within --timeout is not listed.",
      "Exit 1 if a worker refused the request (a control key is needed) or a named one did not"
          + " answer."
    })
final class StatusCommand implements Callable<Integer> {

  @Mixin BrokerOptions broker;

  @Option(names = "--json", description = "Print a JSON array of worker statuses.")
  boolean json;

  @Option(
      names = "--timeout",
      paramLabel = "DURATION",
      defaultValue = "1s",
      converter = Durations.class,
      description = "How long to collect answers (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(
      names = "--worker",
      arity = "1..*",
      paramLabel = "NAME",
      description = "Only these workers; exit 1 if one does not answer.")
  List<String> workers;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    FlagChecks.positive("--timeout", timeout);
    Target target =
        workers == null ? Target.all() : new Target.Workers(Targets.nonBlank("--worker", workers));
    StatusRound.Result round;
    try (ControlSession session =
        ControlSession.openExisting(
            broker, "status", List.of(Need.exchange(broker.settings().names().eventsExchange())))) {
      round = session.status(target, timeout);
    }
    List<WorkerStatus> statuses = round.statuses();
    Set<String> duplicates = round.duplicateNames();
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(json(statuses, duplicates));
    } else if (statuses.isEmpty() && round.refusals().isEmpty()) {
      out.println("no live workers");
    } else if (!statuses.isEmpty()) {
      print(statuses, duplicates, out);
    }
    out.flush();
    if (round.silent() > 0 && workers == null) {
      spec.commandLine()
          .getErr()
          .println(
              "control status: "
                  + round.silent()
                  + " more worker(s) hear commands, by the broker's count ("
                  + round.listening()
                  + "), but did not answer within "
                  + Durations.format(timeout)
                  + ": "
                  + CommandReport.WHY_SILENT);
    }
    if (!duplicates.isEmpty()) {
      PrintWriter err = spec.commandLine().getErr();
      for (String name : duplicates) {
        List<String> who =
            statuses.stream()
                .filter(s -> name.equals(s.worker()))
                .map(s -> s.host() + " pid " + s.pid())
                .toList();
        err.println(
            "control status: "
                + who.size()
                + " workers answer to the name "
                + name
                + " ("
                + String.join(", ", who)
                + "); a command for --worker "
                + name
                + " reaches all of them");
      }
      err.flush();
    }
    List<String> answered = round.answered();
    List<String> silent =
        workers == null
            ? List.of()
            : workers.stream().filter(w -> !answered.contains(w)).distinct().toList();
    List<String> problems = new ArrayList<>(Refusals.of(round.refusals()));
    if (!silent.isEmpty()) {
      problems.add("no answer from " + String.join(", ", silent));
    }
    if (!problems.isEmpty()) {
      PrintWriter err = spec.commandLine().getErr();
      problems.forEach(p -> err.println("control status: " + p));
      err.flush();
      return ExitCodes.FAILURE;
    }
    return ExitCodes.OK;
  }

  /**
   * The statuses as JSON, each one that shares its name with another marked {@code duplicateName}.
   */
  static String json(List<WorkerStatus> statuses, Set<String> duplicates) {
    ArrayNode array = Wire.JSON.createArrayNode();
    for (WorkerStatus s : statuses) {
      ObjectNode node = Wire.JSON.valueToTree(s);
      if (duplicates.contains(s.worker())) {
        node.put("duplicateName", true);
      }
      array.add(node);
    }
    return array.toString();
  }

  private static String mib(long bytes) {
    return (bytes + (1 << 19)) / (1 << 20) + " MiB";
  }

  /** A worker whose name another one shares is marked with {@code *}. */
  static void print(List<WorkerStatus> statuses, Set<String> duplicates, PrintWriter out) {
    Table workers =
        new Table("", "WORKER", "HOST", "PID", "QUEUES", "CONCURRENCY", "PAUSED", "TASKS");
    for (WorkerStatus s : statuses) {
      workers.row(
          duplicates.contains(s.worker()) ? s.worker() + "*" : s.worker(),
          s.host(),
          s.pid(),
          s.queues() == null ? null : String.join(",", s.queues()),
          s.concurrency(),
          s.paused() ? "yes" : "no",
          s.tasks() == null ? 0 : s.tasks().size());
    }
    workers.print(out);
    Instant now = Instant.now();
    for (WorkerStatus s : statuses) {
      if (s.tasks() == null || s.tasks().isEmpty()) {
        continue;
      }
      out.println();
      out.println(
          (duplicates.contains(s.worker())
                  ? s.worker() + " (" + s.host() + " pid " + s.pid() + ")"
                  : s.worker())
              + ":");
      // Under --isolation process each task runs in a child JVM: its pid, tasks run and RSS.
      boolean children = s.tasks().stream().anyMatch(t -> t.child() != null);
      Table tasks =
          children
              ? new Table(
                  "  ",
                  "TASK",
                  "TYPE",
                  "ATTEMPT",
                  "AGE",
                  "DEADLINE",
                  "STAGE",
                  "CHILD",
                  "CHILD TASKS",
                  "CHILD RSS")
              : new Table("  ", "TASK", "TYPE", "ATTEMPT", "AGE", "DEADLINE", "STAGE");
      for (WorkerStatus.RunningTask t : s.tasks()) {
        List<Object> cells =
            new ArrayList<>(
                java.util.Arrays.asList(
                    t.id(),
                    t.type(),
                    t.attempt(),
                    Ages.of(t.ageMs()),
                    t.deadline() == null ? null : Ages.until(t.deadline(), now),
                    t.stage()));
        if (children) {
          WorkerStatus.ChildProcess c = t.child();
          cells.add(c == null ? null : c.pid());
          cells.add(c == null ? null : c.tasksRun());
          cells.add(c == null || c.rssBytes() == null ? null : mib(c.rssBytes()));
        }
        tasks.row(cells.toArray());
      }
      tasks.print(out);
    }
  }
}
