package dev.conveyor.control;

import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.cli.FlagChecks;
import dev.conveyor.protocol.wire.Command;
import java.time.Duration;
import picocli.CommandLine.Option;

/** Options shared by the commands that broadcast and then wait for acknowledgements. */
final class BroadcastOptions {

  @Option(
      names = "--no-wait",
      description = "Publish and return without waiting for acknowledgements.")
  boolean noWait;

  /** The default wait: the spec's 5 s. */
  static final Duration WAIT = Duration.ofSeconds(5);

  /**
   * The default wait of {@code kill}: a task that ignores a kill is settled only after the worker's
   * kill grace (5 s by default), so waiting just 5 s would report it unsettled.
   */
  static final Duration KILL_WAIT = Duration.ofSeconds(10);

  @Option(
      names = "--wait-timeout",
      paramLabel = "DURATION",
      converter = Durations.class,
      description =
          "How long to wait for workers and their tasks (default: 5s; for kill 10s, to outlast"
              + " the workers' kill grace).")
  Duration waitTimeout;

  @Option(
      names = "--discover-timeout",
      paramLabel = "DURATION",
      defaultValue = "1s",
      converter = Durations.class,
      description =
          "How long to look for live workers, whose answers are waited for; the command is"
              + " published first and does not wait for this (default: ${DEFAULT-VALUE}).")
  Duration discoverTimeout;

  @Option(names = "--json", description = "Print one JSON document instead of text.")
  boolean json;

  /**
   * Refuses values that parse but mean nothing: a zero wait reports every worker as silent.
   *
   * @throws dev.conveyor.protocol.UsageException naming the flag and its range
   */
  void validate() {
    if (noWait && waitTimeout != null) {
      throw new UsageException("--wait-timeout cannot be used with --no-wait, which does not wait");
    }
    FlagChecks.positive("--wait-timeout", waitTimeout);
    FlagChecks.positive("--discover-timeout", discoverTimeout);
  }

  Duration waitTimeout(Command verb) {
    if (waitTimeout != null) {
      return waitTimeout;
    }
    return verb == Command.KILL ? KILL_WAIT : WAIT;
  }
}
