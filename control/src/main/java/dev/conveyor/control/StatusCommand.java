package dev.conveyor.control;

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
      "Exit 1 if a worker refused the request (a control key is needed) or a named one did not",
      "answer."
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
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      out.println(Wire.toJson(statuses));
    } else if (statuses.isEmpty() && round.refusals().isEmpty()) {
      out.println("no live workers");
    } else if (!statuses.isEmpty()) {
      print(statuses, out);
    }
    out.flush();
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

  static void print(List<WorkerStatus> statuses, PrintWriter out) {
    Table workers =
        new Table("", "WORKER", "HOST", "PID", "QUEUES", "CONCURRENCY", "PAUSED", "TASKS");
    for (WorkerStatus s : statuses) {
      workers.row(
          s.worker(),
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
      out.println(s.worker() + ":");
      Table tasks = new Table("  ", "TASK", "TYPE", "ATTEMPT", "AGE", "DEADLINE", "STAGE");
      for (WorkerStatus.RunningTask t : s.tasks()) {
        tasks.row(
            t.id(),
            t.type(),
            t.attempt(),
            Ages.of(t.ageMs()),
            t.deadline() == null ? null : Ages.until(t.deadline(), now),
            t.stage());
      }
      tasks.print(out);
    }
  }
}
