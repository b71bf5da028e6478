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
}
