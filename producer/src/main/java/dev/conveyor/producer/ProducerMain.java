package dev.conveyor.producer;

import dev.conveyor.protocol.cli.Cli;
import dev.conveyor.protocol.cli.PrintableWriter;
import java.io.BufferedWriter;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The {@code producer} program: enqueues tasks (README.md). */
@Command(
    name = "producer",
    description = "Enqueue Conveyor tasks on RabbitMQ, with publisher confirms.",
    subcommands = {PublishCommand.class},
    footer = {
      "",
      "Run 'producer publish --help' for the flags.",
      "Exit codes: 0 ok, 1 failure, 2 usage error, 3 broker unreachable or refused credentials."
    })
public final class ProducerMain implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help and exit.")
  boolean help;

  final InputStream stdin;
  final BooleanSupplier stderrIsTerminal;
  final Clock clock;

  public ProducerMain() {
    this(System.in, ProgressLine::stderrIsTerminal, Clock.systemUTC());
  }

  /** For tests: where stdin comes from, whether to draw progress, and the time. */
  ProducerMain(InputStream stdin, BooleanSupplier stderrIsTerminal, Clock clock) {
    this.stdin = stdin;
    this.stderrIsTerminal = stderrIsTerminal;
    this.clock = clock;
  }

  public static void main(String[] args) {
    CommandLine cl = Cli.commandLine(new ProducerMain());
    // Buffered: ids are flushed per confirmed batch, not per line, which matters for --count 1e6.
    // Escaped for the terminal: --wait prints the reasons workers give, which can quote a payload.
    PrintWriter out =
        PrintableWriter.around(
            new PrintWriter(
                new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8))),
            false);
    cl.setOut(out);
    // The ids it names and the broker's reasons are escaped there too; not its progress line.
    cl.setErr(PrintableWriter.around(cl.getErr(), true));
    Cli.exit(cl, args);
  }

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "missing command: publish");
  }
}
