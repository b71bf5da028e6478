package dev.conveyor.producer;

import dev.conveyor.protocol.cli.Cli;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import picocli.CommandLine;

/** Runs the producer CLI in-process and captures what it prints. */
record CliRun(int exitCode, String out, String err) {

  static CliRun run(String... args) {
    return run(new ByteArrayInputStream(new byte[0]), false, args);
  }

  static CliRun withStdin(String stdin, String... args) {
    return run(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)), false, args);
  }

  static CliRun run(InputStream stdin, boolean terminal, String... args) {
    return run(new ProducerMain(stdin, () -> terminal, Clock.systemUTC()), args);
  }

  static CliRun run(ProducerMain main, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Cli.commandLine(main);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }

  List<String> outLines() {
    return out.lines().toList();
  }

  List<String> errLines() {
    return err.lines().toList();
  }

  @Override
  public String toString() {
    return "exit " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err;
  }
}
