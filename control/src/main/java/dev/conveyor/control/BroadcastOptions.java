package dev.conveyor.control;

import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.cli.FlagChecks;
import dev.conveyor.protocol.wire.Command;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Options shared by the commands that broadcast and then wait for acknowledgements, added to a
 * command built in code (see {@link BroadcastCommand}).
 */
final class BroadcastOptions {

  /** The default wait: the spec's 5 s. */
  static final Duration WAIT = Duration.ofSeconds(5);

  /**
   * The default wait of {@code kill}: a task that ignores a kill is settled only after the worker's
   * kill grace (5 s by default), so waiting just 5 s would report it unsettled.
   */
  static final Duration KILL_WAIT = Duration.ofSeconds(10);

  private final OptionSpec noWait;
  private final OptionSpec waitTimeout;
  private final OptionSpec discoverTimeout;
  private final OptionSpec json;

  BroadcastOptions(CommandSpec spec) {
    noWait =
        add(
            spec,
            Flags.flag("--no-wait")
                .description("Publish and return without waiting for acknowledgements."));
    waitTimeout =
        add(
            spec,
            Flags.duration("--wait-timeout")
                .description(
                    "How long to wait for workers and their tasks (default: 5s; for kill 10s, to"
                        + " outlast the workers' kill grace)."));
    discoverTimeout =
        add(
            spec,
            Flags.duration("--discover-timeout")
                .defaultValue("1s")
                .description(
                    "How long to look for live workers, whose answers are waited for; the command"
                        + " is published first and does not wait for this (default:"
                        + " ${DEFAULT-VALUE})."));
    json = add(spec, Flags.flag("--json").description("Print one JSON document instead of text."));
  }

  private static OptionSpec add(CommandSpec spec, OptionSpec.Builder option) {
    OptionSpec built = option.build();
    spec.addOption(built);
    return built;
  }

  boolean noWait() {
    return Flags.isSet(noWait);
  }

  boolean json() {
    return Flags.isSet(json);
  }

  Duration discoverTimeout() {
    return discoverTimeout.getValue();
  }

  /**
   * Refuses values that parse but mean nothing: a zero wait reports every worker as silent.
   *
   * @throws dev.conveyor.protocol.UsageException naming the flag and its range
   */
  void validate() {
    Duration wait = waitTimeout.getValue();
    if (noWait() && wait != null) {
      throw new UsageException("--wait-timeout cannot be used with --no-wait, which does not wait");
    }
    FlagChecks.positive("--wait-timeout", wait);
    FlagChecks.positive("--discover-timeout", discoverTimeout());
  }

  Duration waitTimeout(Command verb) {
    Duration wait = waitTimeout.getValue();
    if (wait != null) {
      return wait;
    }
    return verb == Command.KILL ? KILL_WAIT : WAIT;
  }

  /** How the broadcasting commands build their flags. */
  static final class Flags {
    private Flags() {}

    /** An option without a value: set when given. */
    static OptionSpec.Builder flag(String name) {
      return OptionSpec.builder(name).type(boolean.class).arity("0");
    }

    static OptionSpec.Builder duration(String name) {
      return OptionSpec.builder(name)
          .type(Duration.class)
          .paramLabel("DURATION")
          .converters(new Durations());
    }

    /** An option that takes one or more values and may be repeated. */
    static OptionSpec.Builder names(String name, String label) {
      return OptionSpec.builder(name)
          .type(List.class)
          .auxiliaryTypes(String.class)
          .arity("1..*")
          .paramLabel(label);
    }

    static boolean isSet(OptionSpec flag) {
      return Boolean.TRUE.equals(flag.getValue());
    }
  }
}
