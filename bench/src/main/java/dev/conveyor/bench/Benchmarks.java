package dev.conveyor.bench;

import dev.conveyor.protocol.cli.Cli;
import picocli.CommandLine.Command;

/**
 * {@code java -jar bench-all.jar <benchmark> [options]}; {@code bench/run} is the launcher. Each
 * benchmark prints progress on stderr and its figures on stdout (one JSON object with {@code
 * --json}); none asserts anything.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = {
      "Conveyor benchmarks against the RabbitMQ on 127.0.0.1. They print figures and assert"
          + " nothing; each uses its own random namespace and deletes it at the end."
    },
    subcommands = {
      ThroughputBench.class,
      StartBench.class,
      ScalingBench.class,
      ProducerBench.class,
      StopLatencyBench.class,
      CliStopBench.class,
      DeadlinePrecisionBench.class,
      ShutdownBench.class,
      FleetBench.class,
      FailoverBench.class,
      IsolationBench.class
    })
public final class Benchmarks implements Runnable {

  @Override
  public void run() {
    Cli.commandLine(this).usage(System.err);
  }

  public static void main(String[] args) {
    configureLogging();
    Cli.main(new Benchmarks(), args);
  }

  /**
   * The in-process workers log with the worker's WorkerLogging otherwise (INFO); the benchmarks
   * want warnings only. Must run before the first logger is created.
   */
  static void configureLogging() {
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", "bench-logback.xml");
    }
  }
}
