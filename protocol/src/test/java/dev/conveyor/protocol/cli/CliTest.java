package dev.conveyor.protocol.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.ShutdownSignalException;
import com.rabbitmq.client.impl.AMQImpl;
import dev.conveyor.protocol.ExitCodes;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

class CliTest {

  @Command(name = "prog")
  record Failing(Exception failure) implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
      throw failure;
    }
  }

  private static String stderrOf(Exception failure, int expectedExit) {
    StringWriter err = new StringWriter();
    var cl = Cli.commandLine(new Failing(failure));
    cl.setErr(new PrintWriter(err, true));
    assertEquals(expectedExit, cl.execute());
    return err.toString().strip();
  }

  @Test
  void aBrokerRefusalIsExplainedByTheBrokersReason() {
    ShutdownSignalException signal =
        new ShutdownSignalException(
            false,
            false,
            new AMQImpl.Channel.Close(406, "PRECONDITION_FAILED - inequivalent arg", 50, 10),
            null);
    assertEquals(
        "prog: the broker refused: PRECONDITION_FAILED - inequivalent arg",
        stderrOf(new IOException(null, signal), ExitCodes.FAILURE));
  }

  @Test
  void otherFailuresAreLeftAlone() {
    assertEquals(
        "prog: java.io.IOException: disk full",
        stderrOf(new IOException("disk full"), ExitCodes.FAILURE));
  }

  @Command(name = "tool", mixinStandardHelpOptions = true, version = "tool 1")
  static final class Tool implements Runnable {
    @Override
    public void run() {}
  }

  @Command(name = "sub", mixinStandardHelpOptions = true)
  static final class Sub implements Runnable {
    @Override
    public void run() {}
  }

  /**
   * Every line a program prints about itself starts with the program's name: a subcommand's usage
   * error said "publish: Unknown option …" where its other errors said "producer: …".
   */
  @Test
  void aSubcommandsUsageErrorIsNamedAfterTheProgram() {
    CommandLine cl = Cli.commandLine(new Tool());
    cl.addSubcommand("sub", new Sub());
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err, true));

    assertEquals(ExitCodes.USAGE, cl.execute("sub", "--bogus"));
    assertEquals(
        "tool: Unknown option: '--bogus'\nTry 'tool sub --help'.",
        err.toString().strip().replace(System.lineSeparator(), "\n"));
  }

  private static boolean onlyHelp(String... args) {
    CommandLine cl = Cli.commandLine(new Tool());
    cl.addSubcommand("sub", new Sub());
    cl.addSubcommand("help", new CommandLine.HelpCommand());
    return Cli.onlyHelp(cl.parseArgs(args));
  }

  /** A run that only printed help or the version does not train the launcher's cache. */
  @Test
  void helpOrTheVersionAtAnyLevelIsOnlyHelpAndARealRunIsNot() {
    assertTrue(onlyHelp("--help"));
    assertTrue(onlyHelp("-V"));
    assertTrue(onlyHelp("sub", "--help"));
    assertTrue(onlyHelp("help", "sub"));
    assertFalse(onlyHelp("sub"));
    assertFalse(onlyHelp());
  }

  /** A command built in code with its options unsorted, as the programs build theirs. */
  private static CommandSpec inCode() {
    CommandSpec spec = CommandSpec.create().name("tool").version("tool 1");
    spec.usageMessage().sortOptions(false);
    spec.addOption(OptionSpec.builder("--zeta").description("Last by name.").build());
    spec.addOption(OptionSpec.builder("--alpha").description("First by name.").build());
    return spec;
  }

  private static String run(CommandSpec spec, String... args) {
    StringWriter out = new StringWriter();
    CommandLine cl = Cli.commandLine(spec);
    cl.setOut(new PrintWriter(out, true));
    assertEquals(0, cl.execute(args));
    return out.toString();
  }

  /** The help and version options made in code print what picocli's standard mixin prints. */
  @Test
  void standardHelpOptionsInCodeAreThoseOfPicocliMixin() {
    CommandSpec mixin = inCode().mixinStandardHelpOptions(true);
    CommandSpec ours = Cli.standardHelpOptions(inCode());

    assertEquals(run(mixin, "--help"), run(ours, "--help"));
    assertTrue(run(ours, "-h").contains("-V, --version   Print version information and exit."));
    assertEquals("tool 1" + System.lineSeparator(), run(ours, "-V"));
    assertEquals(run(mixin, "--version"), run(ours, "--version"));
  }
}
