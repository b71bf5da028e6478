package dev.conveyor.worker;

import dev.conveyor.protocol.broker.BrokerSettings;
import java.util.List;
import picocli.CommandLine;

/**
 * A {@link WorkerConfig} from {@code bin/worker} flags, for in-process workers of the benchmarks: a
 * setting is named as an operator would type it ({@code --prefetch 64 --events final}), and a flag
 * the worker gains is usable here without a change to the benchmarks. Lives in the worker's package
 * because {@link WorkerMain#config} checks the flags and is package-private.
 */
public final class BenchWorkerFlags {
  private BenchWorkerFlags() {}

  /**
   * The worker {@code bin/worker <flags>} would run, on {@code broker} (flags naming a broker are
   * overridden).
   *
   * @throws IllegalArgumentException naming the flag the worker refuses
   */
  public static WorkerConfig config(BrokerSettings broker, List<String> flags) {
    WorkerMain main = new WorkerMain();
    try {
      new CommandLine(main)
          .setCaseInsensitiveEnumValuesAllowed(true)
          .parseArgs(flags.toArray(String[]::new));
      return main.config().withBroker(broker);
    } catch (CommandLine.ParameterException | dev.conveyor.protocol.cli.UsageException e) {
      throw new IllegalArgumentException("worker flags " + flags + ": " + e.getMessage(), e);
    }
  }
}
