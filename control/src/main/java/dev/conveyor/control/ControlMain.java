package dev.conveyor.control;

import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.cli.Cli;
import dev.conveyor.protocol.cli.PrintableWriter;
import dev.conveyor.protocol.wire.Wire;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * The {@code control} program: one subcommand per operator action (README.md). The program and the
 * commands that act on workers are built in code, not from annotations (see {@link
 * BroadcastCommand}).
 */
public final class ControlMain implements Runnable {

  private final CommandSpec spec = CommandSpec.wrapWithoutInspection(this);

  private ControlMain() {
    Cli.standardHelpOptions(spec.name("control").version("conveyor control 0.1.0"));
    spec.usageMessage()
        .description(
            "Stops, kills, pauses and inspects Conveyor workers; follows events; manages dead"
                + " letters.")
        .footer(
            "",
            "Exit codes: 0 ok, 1 the operation reported a failure, 2 usage error, 3 broker"
                + " unreachable.");
  }

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "missing subcommand");
  }

  /** The subcommands whose answers come as JSON the moment they have acted. */
  private static final Set<String> ANSWERED = Set.of("stop", "kill", "pause", "resume", "status");

  /** The subcommands, in the order help lists them. */
  private static final Map<String, Supplier<Object>> SUBCOMMANDS = subcommands();

  private static Map<String, Supplier<Object>> subcommands() {
    Map<String, Supplier<Object>> all = new LinkedHashMap<>();
    all.put("stop", () -> new StopCommand().spec);
    all.put("kill", () -> new KillCommand().spec);
    all.put("pause", () -> new PauseCommand().spec);
    all.put("resume", () -> new ResumeCommand().spec);
    all.put("status", StatusCommand::new);
    all.put("watch", WatchCommand::new);
    all.put("dead", DeadCommand::new);
    all.put("help", CommandLine.HelpCommand::new);
    return Collections.unmodifiableMap(all);
  }

  /** The command line with Conveyor's exit-code mapping and every subcommand, for tests. */
  public static CommandLine commandLine() {
    return commandLine(SUBCOMMANDS.keySet());
  }

  /**
   * The command line for these arguments. When the first names a subcommand other than help, only
   * that one is built: picocli builds an annotated command's model by reflection when it is added,
   * and a {@code control stop} should not wait for the models of {@code watch} or {@code dead}.
   */
  static CommandLine commandLine(String... args) {
    return commandLine(
        args.length > 0 && SUBCOMMANDS.containsKey(args[0]) && !args[0].equals("help")
            ? Set.of(args[0])
            : SUBCOMMANDS.keySet());
  }

  private static CommandLine commandLine(Set<String> names) {
    CommandLine cl = Cli.commandLine(new ControlMain().spec);
    SUBCOMMANDS.forEach(
        (name, make) -> {
          if (names.contains(name)) {
            cl.addSubcommand(name, make.get());
          }
        });
    CommandLine.IExecutionExceptionHandler standard = cl.getExecutionExceptionHandler();
    cl.setExecutionExceptionHandler(
        (ex, commandLine, parseResult) -> {
          if (ex instanceof NamespaceMissingException missing) {
            commandLine.getErr().println("control: " + missing.getMessage());
            commandLine.getErr().flush();
            return ExitCodes.FAILURE;
          }
          return standard.handleExecutionException(ex, commandLine, parseResult);
        });
    return cl;
  }

  public static void main(String[] args) {
    if (args.length > 0 && ANSWERED.contains(args[0])) {
      // The workers' status replies (the round that finds whom to wait for, or status itself) are
      // read with the codec's object mapper, whose classes and first readers take a cold JVM tens
      // of milliseconds to build: begun now, beside reading the command line and connecting, it is
      // ready by the time the first reply comes. Events are read without it (EventForm).
      Thread.ofPlatform().name("conveyor-codec").daemon().start(Wire::prepare);
    }
    CommandLine cl = commandLine(args);
    // What is printed for people holds what others published: ids, types, reasons.
    cl.setOut(PrintableWriter.around(cl.getOut(), true));
    cl.setErr(PrintableWriter.around(cl.getErr(), true));
    Cli.exit(cl, args);
  }
}
