package dev.conveyor.producer;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.BrokerLease;
import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.broker.Reconnections;
import dev.conveyor.protocol.cli.FlagChecks;
import dev.conveyor.protocol.events.KeptEventSubscription;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.AbstractCollection;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code producer publish}: builds tasks from flags or a JSON Lines file and publishes them. */
@Command(
    name = "publish",
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Publish tasks and print one task id per line as the broker confirms them.",
      "Exits 0 only when the broker has confirmed every task.",
    },
    footer = {
      "",
      "Examples:",
      "  producer publish --type sleep --payload '{\"seconds\":5}' --timeout 30s --grace 5s",
      "  producer publish --type noop --count 1000 --json",
      "  producer publish --from tasks.jsonl --wait --wait-timeout 10m",
      "  generate-tasks | producer publish --from -",
      "",
      "A --from file has one task per line in the wire format, e.g.",
      "  {\"type\":\"sleep\",\"payload\":{\"seconds\":2},\"timeoutMs\":30000}",
      "The whole file is checked before anything is published.",
      "",
      "Exit codes: 0 all confirmed (with --wait: all succeeded); 1 a task was not confirmed,",
      "did not succeed or did not finish in time; 2 usage error; 3 broker unreachable or",
      "refused credentials."
    })
final class PublishCommand implements Callable<Integer> {

  private static final Logger log = LoggerFactory.getLogger(PublishCommand.class);

  /** How many missing ids a failed wait names before it abbreviates. */
  private static final int MAX_LISTED = 20;

  @Spec CommandSpec spec;

  @ParentCommand ProducerMain main;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help and exit.")
  boolean help;

  @Option(
      names = "--type",
      paramLabel = "TYPE",
      description = "Task type: the handler that runs it (noop, sleep, spin, exec, fail, …).")
  String type;

  @Option(
      names = "--payload",
      paramLabel = "JSON",
      description = "Task payload as JSON, e.g. '{\"seconds\":5}'.")
  String payload;

  @Option(
      names = "--payload-file",
      paramLabel = "FILE",
      description = "Read the payload JSON from FILE ('-' = stdin).")
  String payloadFile;

  @Option(
      names = "--queue",
      paramLabel = "Q",
      defaultValue = TaskPublisher.DEFAULT_QUEUE,
      description = "Task queue (default: ${DEFAULT-VALUE}); created if missing.")
  String queue;

  @Option(
      names = "--count",
      paramLabel = "N",
      description = "Publish N copies, each with its own id (default: 1).")
  Integer count;

  @Option(
      names = "--timeout",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "Deadline from the task's start, e.g. 30s (default: the worker's).")
  Duration timeout;

  @Option(
      names = "--grace",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "Time between stop and kill at the deadline, e.g. 5s (default: the worker's).")
  Duration grace;

  @Option(
      names = "--consumer-timeout",
      paramLabel = "DURATION",
      converter = Durations.class,
      defaultValue = "30m",
      description =
          "The broker's consumer_timeout; a deadline beyond it is refused (default:"
              + " ${DEFAULT-VALUE}, RabbitMQ's). Raise both together.")
  Duration consumerTimeout;

  @Option(
      names = "--max-attempts",
      paramLabel = "N",
      description = "Attempts before the task is dead-lettered (default: 1, no retry).")
  Integer maxAttempts;

  @Option(
      names = "--expires-in",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "Do not run the task if it has not started within this time, e.g. 10m.")
  Duration expiresIn;

  @Option(
      names = "--id",
      paramLabel = "ID",
      description = "Task id (only with --count 1; default: a random UUID).")
  String id;

  @Option(
      names = "--from",
      paramLabel = "FILE.jsonl",
      description = {
        "Publish the tasks in FILE, one JSON task per line ('-' = stdin).",
        "Not with --type, --payload, --payload-file, --count or --id; --timeout, --grace,"
            + " --max-attempts and --expires-in apply to lines that do not set them."
      })
  String from;

  @Option(
      names = "--wait",
      description =
          "Then follow events until every task has a final outcome, print each one and a"
              + " summary (on stderr); exit 1 unless all succeeded.")
  boolean wait;

  @Option(
      names = "--wait-timeout",
      paramLabel = "DURATION",
      converter = Durations.class,
      defaultValue = "5m",
      description = "With --wait: give up after this long (default: ${DEFAULT-VALUE}).")
  Duration waitTimeout;

  @Option(
      names = "--json",
      description =
          "Print JSON objects, one per line: {id,type,queue}, and with --wait the events.")
  boolean json;

  @Mixin BrokerOptions broker;

  /**
   * What to publish, validated before the broker is contacted. The tasks are a collection (none
   * read from a source that may block), so that the publisher writes them in batches.
   */
  record Plan(String queue, Collection<TaskMessage> tasks) {
    long total() {
      return tasks.size();
    }
  }

  /** What {@code --json} prints per published task. */
  record Published(String id, String type, String queue) {}

  @Override
  public Integer call() throws Exception {
    BrokerSettings settings = broker.settings();
    Plan plan = plan();
    Connection connection = new BrokerConnector(settings).connect(TaskPublisher.CONNECTION_NAME);
    try {
      return run(connection, settings.names(), plan);
    } finally {
      Channels.closeQuietly(connection);
    }
  }

  /**
   * Checks the flags and reads any input.
   *
   * @throws UsageException (exit 2) for anything the user has to fix
   */
  Plan plan() {
    if (!wait && spec.commandLine().getParseResult().hasMatchedOption("--wait-timeout")) {
      throw new UsageException("--wait-timeout needs --wait");
    }
    FlagChecks.positive("--wait-timeout", waitTimeout);
    FlagChecks.positive("--consumer-timeout", consumerTimeout);
    Names.checkQueueName(queue);
    atLeastOneMilli("--timeout", timeout);
    atLeastOneMilli("--expires-in", expiresIn);
    FlagChecks.atLeast("--max-attempts", maxAttempts, 1);
    FlagChecks.atLeast("--count", count, 1);
    if (from != null) {
      List<String> clash = new ArrayList<>();
      addIfSet(clash, "--type", type);
      addIfSet(clash, "--payload", payload);
      addIfSet(clash, "--payload-file", payloadFile);
      addIfSet(clash, "--count", count);
      addIfSet(clash, "--id", id);
      if (!clash.isEmpty()) {
        throw new UsageException(
            "--from cannot be combined with "
                + String.join(", ", clash)
                + ": each line of the file is a complete task");
      }
      Instant now = main.clock.instant().truncatedTo(ChronoUnit.MILLIS);
      TaskInput.Defaults defaults =
          new TaskInput.Defaults(
              timeout == null ? null : timeout.toMillis(),
              grace == null ? null : grace.toMillis(),
              maxAttempts,
              expiresIn == null ? null : now.plus(expiresIn));
      List<TaskMessage> tasks =
          TaskInput.readTasks(
              from,
              main.stdin,
              defaults,
              main.clock,
              task ->
                  BrokerLease.exceeded(task, consumerTimeout)
                      .map(why -> why + " (see --consumer-timeout)"));
      return new Plan(queue, tasks);
    }
    if (type == null) {
      throw new UsageException("missing --type (or --from FILE)");
    }
    if (payload != null && payloadFile != null) {
      throw new UsageException("give --payload or --payload-file, not both");
    }
    int n = count == null ? 1 : count;
    if (id != null && n > 1) {
      throw new UsageException("--id can only be used with --count 1: task ids must be unique");
    }
    JsonNode body =
        payload != null
            ? TaskInput.parseJson(payload, "--payload")
            : payloadFile != null ? TaskInput.readPayloadFile(payloadFile, main.stdin) : null;
    TaskSpec task =
        TaskSpec.of(type)
            .id(id)
            .payload(body)
            .timeout(timeout)
            .grace(grace)
            .maxAttempts(maxAttempts)
            .expiresIn(expiresIn);
    BrokerLease.exceeded(task.build(main.clock), consumerTimeout)
        .ifPresent(
            why -> {
              throw new UsageException(why + " (see --consumer-timeout)");
            });
    // Built lazily: a million tasks need not sit in memory before the first is published.
    return new Plan(queue, copies(task, n));
  }

  /** {@code n} tasks from {@code task}, each built when it is asked for. */
  private Collection<TaskMessage> copies(TaskSpec task, int n) {
    return mapped(Collections.nCopies(n, task), t -> t.build(main.clock));
  }

  /** {@code tasks}, each expected by {@code tracker} as it is taken, before it is published. */
  private static Collection<TaskMessage> expecting(
      Collection<TaskMessage> tasks, WaitTracker tracker) {
    return mapped(
        tasks,
        task -> {
          tracker.expect(task.id());
          return task;
        });
  }

  /**
   * A view of {@code source} that applies {@code f} to each element as an iteration takes it: a
   * collection still (its size known), so the publisher writes its tasks in batches, and nothing is
   * built before it is published.
   */
  private static <A, B> Collection<B> mapped(Collection<A> source, Function<A, B> f) {
    return new AbstractCollection<>() {
      @Override
      public int size() {
        return source.size();
      }

      @Override
      public Iterator<B> iterator() {
        Iterator<A> it = source.iterator();
        return new Iterator<>() {
          @Override
          public boolean hasNext() {
            return it.hasNext();
          }

          @Override
          public B next() {
            return f.apply(it.next());
          }
        };
      }
    };
  }

  private int run(Connection connection, Names names, Plan plan)
      throws IOException, InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String prog = spec.root().name();
    boolean terminal = main.stderrIsTerminal.getAsBoolean();
    long started = System.nanoTime();

    WaitTracker tracker = new WaitTracker();
    KeptEventSubscription events = null;
    ScheduledExecutorService resubscriber = null;
    ProgressLine progress = ProgressLine.forRun(err, plan.total(), terminal);
    try {
      Collection<TaskMessage> tasks = plan.tasks();
      if (wait) {
        // Subscribed before the first publish, so that no outcome can come too early for us.
        resubscriber =
            Executors.newSingleThreadScheduledExecutor(
                r -> Thread.ofPlatform().name("conveyor-resubscribe").daemon().unstarted(r));
        events =
            KeptEventSubscription.openPrivate(
                connection,
                new Topology(names),
                true,
                WaitTracker.FINAL_KEYS,
                tracker::offer,
                resubscriber,
                KeptEventSubscription.Notices.telling(
                    log::warn,
                    "events published meanwhile are lost, so some outcomes may not arrive"));
        Reconnections.report(
            connection,
            log::warn,
            "events sent while disconnected are lost, so some outcomes may not arrive");
        tasks = expecting(plan.tasks(), tracker);
      }
      long[] published = {0};
      StringBuilder lines = new StringBuilder();
      String newline = System.lineSeparator();
      try (TaskPublisher publisher = TaskPublisher.open(connection, names)) {
        publisher.onBlocked(
            reason ->
                progress.message(
                    prog + ": the broker is blocking publishers (" + reason + "); waiting"),
            () -> progress.message(prog + ": the broker unblocked publishers; continuing"));
        publisher.publishAll(
            plan.queue(),
            tasks,
            batch -> {
              progress.hide();
              // One write per confirmed batch rather than one println (and its locking) per id.
              lines.setLength(0);
              for (TaskMessage t : batch) {
                lines
                    .append(
                        json ? Wire.toJson(new Published(t.id(), t.type(), plan.queue())) : t.id())
                    .append(newline);
              }
              out.append(lines);
              out.flush();
              published[0] += batch.size();
              progress.update("published " + published[0] + "/" + plan.total(), false);
            });
      }
      progress.finish();
      return wait
          ? awaitOutcomes(tracker, out, err, prog, plan.total(), terminal, started)
          : ExitCodes.OK;
    } catch (IOException e) {
      progress.finish();
      err.println(prog + ": " + reason(e));
      return ExitCodes.FAILURE;
    } finally {
      if (events != null) {
        events.close();
      }
      if (resubscriber != null) {
        resubscriber.shutdownNow();
      }
    }
  }

  /** Ours name what failed; amqp-client's often have no message, only the broker's reason. */
  private static String reason(IOException e) {
    return e.getMessage() != null ? e.getMessage() : "broker error: " + BrokerErrors.reason(e);
  }

  private int awaitOutcomes(
      WaitTracker tracker,
      PrintWriter out,
      PrintWriter err,
      String prog,
      long total,
      boolean terminal,
      long started)
      throws InterruptedException {
    ProgressLine progress = ProgressLine.forRun(err, total, terminal);
    progress.update(finished(new WaitTracker.Result((int) total, Map.of(), List.of())), true);
    WaitTracker.Result result =
        tracker.await(
            waitTimeout,
            event -> {
              progress.hide();
              out.println(json ? Wire.toJson(event) : plain(event));
              out.flush();
            },
            p -> progress.update(finished(p), false));
    progress.finish();
    int code = result.allSucceeded() ? ExitCodes.OK : ExitCodes.FAILURE;
    if (!result.missing().isEmpty()) {
      List<String> missing = result.missing();
      String listed =
          missing.stream().limit(MAX_LISTED).collect(Collectors.joining(" "))
              + (missing.size() > MAX_LISTED
                  ? " … and " + (missing.size() - MAX_LISTED) + " more"
                  : "");
      err.println(
          prog
              + ": gave up waiting after "
              + Durations.format(waitTimeout)
              + ": "
              + missing.size()
              + " of "
              + total
              + " tasks have no final outcome yet: "
              + listed);
    }
    // Always the last line, so that a log ends with what the run came to.
    err.println(prog + ": " + result.summary(Duration.ofNanos(System.nanoTime() - started)));
    err.flush();
    return code;
  }

  /** {@code <id> <state> [cause] [reason]}, on one line whatever the reason contains. */
  static String plain(TaskEvent e) {
    StringBuilder sb = new StringBuilder(e.task()).append(' ').append(e.state().wire());
    if (e.cause() != null) {
      sb.append(' ').append(e.cause().wire());
    }
    if (e.reason() != null && !e.reason().isBlank()) {
      sb.append(' ').append(e.reason().strip().replaceAll("\\s+", " "));
    }
    return sb.toString();
  }

  private static String finished(WaitTracker.Result r) {
    return "finished "
        + r.finished()
        + "/"
        + r.total()
        + " (succeeded "
        + r.succeeded()
        + ", other "
        + r.other()
        + ")";
  }

  private static void atLeastOneMilli(String flag, Duration d) {
    if (d != null && d.toMillis() < 1) {
      throw new UsageException(flag + " must be at least 1ms");
    }
  }

  private static void addIfSet(List<String> names, String flag, Object value) {
    if (value != null) {
      names.add(flag);
    }
  }
}
