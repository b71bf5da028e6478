package dev.conveyor.producer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.cli.Cli;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.testkit.HelpText;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/** Flags → tasks, and every usage error, without a broker. */
class PublishFlagsTest {

  private static final Clock CLOCK =
      Clock.fixed(Instant.parse("2026-11-21T12:00:00.5Z"), ZoneOffset.UTC);

  /** A broker URI nobody listens on: reaching it would exit 3, not 2. */
  private static final String NOWHERE = "--uri=amqp://guest:secret@127.0.0.1:1/";

  @TempDir Path dir;

  private static PublishCommand.Plan plan(String stdin, String... args) {
    ProducerMain main =
        new ProducerMain(
            new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)), () -> false, CLOCK);
    CommandLine cl = Cli.commandLine(main);
    List<String> all = new ArrayList<>(List.of("publish"));
    all.addAll(List.of(args));
    cl.parseArgs(all.toArray(String[]::new));
    PublishCommand cmd = cl.getSubcommands().get("publish").getCommand();
    return cmd.plan();
  }

  private static List<TaskMessage> tasks(PublishCommand.Plan plan) {
    List<TaskMessage> out = new ArrayList<>();
    plan.tasks().forEach(out::add);
    return out;
  }

  @Test
  void everyParagraphOfTheHelpIsWrappedWhole() {
    assertEquals(
        List.of(),
        HelpText.sentencesSplitOverLines(
            Cli.commandLine(new ProducerMain(System.in, () -> false, Clock.systemUTC()))));
  }

  @Test
  void everyFlagReachesTheTask() {
    PublishCommand.Plan plan =
        plan(
            "",
            "--type=sleep",
            "--payload={\"seconds\":5}",
            "--queue=emails",
            "--timeout=30s",
            "--grace=5s",
            "--max-attempts=3",
            "--expires-in=10m",
            "--id=task-1");
    assertEquals("emails", plan.queue());
    assertEquals(1, plan.total());
    TaskMessage t = tasks(plan).getFirst();
    assertEquals("task-1", t.id());
    assertEquals("sleep", t.type());
    assertEquals(5, t.payload().get("seconds").asInt());
    assertEquals(30_000L, t.timeoutMs());
    assertEquals(5_000L, t.graceMs());
    assertEquals(3, t.maxAttempts());
    assertEquals(CLOCK.instant(), t.createdAt());
    assertEquals(CLOCK.instant().plus(Duration.ofMinutes(10)), t.expiresAt());
  }

  @Test
  void onlyTypeIsNeeded() {
    PublishCommand.Plan plan = plan("", "--type", "noop");
    assertEquals("default", plan.queue());
    TaskMessage t = tasks(plan).getFirst();
    assertNotNull(UUID.fromString(t.id()));
    assertNull(t.payload());
    assertNull(t.timeoutMs());
    assertNull(t.graceMs());
    assertNull(t.maxAttempts());
    assertNull(t.expiresAt());
  }

  @Test
  void durationFlagsTakeEveryUnit() {
    assertEquals(500L, tasks(plan("", "--type=x", "--timeout=500ms")).getFirst().timeoutMs());
    assertEquals(
        7_200_000L,
        tasks(plan("", "--type=x", "--timeout=2h", "--consumer-timeout=3h"))
            .getFirst()
            .timeoutMs());
    assertEquals(0L, tasks(plan("", "--type=x", "--grace=0s")).getFirst().graceMs());
    assertEquals(
        CLOCK.instant().plus(Duration.ofDays(1)),
        tasks(plan("", "--type=x", "--expires-in=1d")).getFirst().expiresAt());
  }

  @Test
  void countMakesDistinctTasks() {
    PublishCommand.Plan plan = plan("", "--type=noop", "--count=50", "--payload=[1,2]");
    assertEquals(50, plan.total());
    List<TaskMessage> tasks = tasks(plan);
    assertEquals(50, tasks.size());
    assertEquals(50, new HashSet<>(tasks.stream().map(TaskMessage::id).toList()).size());
    assertTrue(tasks.stream().allMatch(t -> t.payload().isArray()));
  }

  @Test
  void payloadFromFileAndFromStdin() throws Exception {
    Path file = Files.writeString(dir.resolve("p.json"), "{\"command\":[\"echo\",\"hi\"]}\n");
    assertEquals(
        "echo",
        tasks(plan("", "--type=exec", "--payload-file=" + file))
            .getFirst()
            .payload()
            .get("command")
            .get(0)
            .asText());
    assertEquals(
        7,
        tasks(plan("{\"seconds\": 7}", "--type=sleep", "--payload-file=-"))
            .getFirst()
            .payload()
            .get("seconds")
            .asInt());
  }

  @Test
  void fromFileAppliesFlagsAsDefaults() throws Exception {
    Path file =
        Files.writeString(
            dir.resolve("t.jsonl"),
            "{\"type\":\"a\"}\n{\"type\":\"b\",\"timeoutMs\":1000,\"maxAttempts\":1}\n");
    List<TaskMessage> tasks =
        tasks(plan("", "--from=" + file, "--timeout=1m", "--max-attempts=4", "--queue=q2"));
    assertEquals(60_000L, tasks.get(0).timeoutMs());
    assertEquals(4, tasks.get(0).maxAttempts());
    assertEquals(1_000L, tasks.get(1).timeoutMs());
    assertEquals(1, tasks.get(1).maxAttempts());
  }

  @Test
  void aDeadlineBeyondTheLeaseInAFileNamesItsLine() throws Exception {
    Path file =
        Files.writeString(
            dir.resolve("t.jsonl"), "{\"type\":\"a\"}\n\n{\"type\":\"b\",\"timeoutMs\":2700000}\n");
    UsageException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            UsageException.class, () -> plan("", "--from=" + file));
    assertEquals(
        file
            + " line 3: timeout 45m plus grace 5s exceeds the broker's consumer_timeout of 30m:"
            + " the broker would take the task back while it runs (see --consumer-timeout);"
            + " nothing was published",
        e.getMessage());
  }

  static Stream<Arguments> usageErrors() {
    return Stream.of(
        Arguments.of(List.of(), "missing --type"),
        Arguments.of(List.of("--type=x", "--payload={bad"), "--payload is not valid JSON"),
        Arguments.of(
            List.of("--type=x", "--payload={\"a\":1} junk"), "--payload is not valid JSON"),
        Arguments.of(List.of("--type=x", "--payload= "), "--payload is empty"),
        Arguments.of(
            List.of("--type=x", "--payload-file=/nonexistent/p.json"),
            "payload file /nonexistent/p.json does not exist"),
        Arguments.of(List.of("--type=x", "--payload={}", "--payload-file=f"), "not both"),
        Arguments.of(List.of("--type=x", "--count=0"), "--count must be at least 1"),
        Arguments.of(List.of("--type=x", "--count=2", "--id=a"), "--id can only be used"),
        Arguments.of(List.of("--type=x", "--id= "), "task id must not be blank"),
        Arguments.of(List.of("--type= "), "task type must not be blank"),
        Arguments.of(List.of("--type=x", "--bogus"), "Unknown option: '--bogus'"),
        Arguments.of(List.of("--type=x", "--count=many"), "--count"),
        Arguments.of(
            List.of("--type=x", "--timeout=abc"),
            "Invalid value for option '--timeout': invalid duration 'abc' (use e.g. 500ms"),
        Arguments.of(List.of("--type=x", "--timeout=0s"), "--timeout must be at least 1ms"),
        Arguments.of(List.of("--type=x", "--expires-in=0m"), "--expires-in must be at least 1ms"),
        Arguments.of(List.of("--type=x", "--max-attempts=0"), "--max-attempts must be at least 1"),
        Arguments.of(List.of("--type=x", "--max-attempts=-2"), "--max-attempts must be at least 1"),
        Arguments.of(List.of("--type=x", "--count=-1"), "--count must be at least 1 (got -1)"),
        Arguments.of(
            List.of("--type=x", "--wait", "--wait-timeout=0s"),
            "--wait-timeout must be between 1ms and 365d (got 0s)"),
        Arguments.of(
            List.of("--type=x", "--wait", "--wait-timeout=400d"),
            "--wait-timeout must be between 1ms and 365d (got 400d)"),
        Arguments.of(
            List.of("--type=x", "--consumer-timeout=0s"),
            "--consumer-timeout must be between 1ms and 365d (got 0s)"),
        Arguments.of(List.of("--from=f.jsonl", "--timeout=0s"), "--timeout must be at least 1ms"),
        Arguments.of(
            List.of("--from=f.jsonl", "--max-attempts=0"), "--max-attempts must be at least 1"),
        Arguments.of(List.of("--type=x", "--wait-timeout=1m"), "--wait-timeout needs --wait"),
        Arguments.of(List.of("--type=x", "--queue=no spaces"), "queue name"),
        Arguments.of(
            List.of("--from=f.jsonl", "--type=x"), "--from cannot be combined with --type"),
        Arguments.of(
            List.of("--from=f.jsonl", "--count=2", "--id=a"),
            "--from cannot be combined with --count, --id"),
        Arguments.of(List.of("--from=/nonexistent/t.jsonl"), "no such file: /nonexistent/t.jsonl"),
        Arguments.of(List.of("--type=x", "--uri=http://host/"), "must start with amqp://"),
        Arguments.of(
            List.of("--type=x", "--timeout=45m"),
            "timeout 45m plus grace 5s exceeds the broker's consumer_timeout of 30m"),
        Arguments.of(
            List.of("--type=x", "--timeout=50m", "--grace=5m", "--consumer-timeout=50m"),
            "exceeds the broker's consumer_timeout of 50m"));
  }

  @ParameterizedTest
  @MethodSource("usageErrors")
  void badInputExits2WithOneClearLineBeforeTouchingTheBroker(List<String> args, String expected) {
    List<String> all = new ArrayList<>(List.of("publish"));
    if (args.stream().noneMatch(a -> a.startsWith("--uri"))) {
      all.add(NOWHERE);
    }
    all.addAll(args);
    CliRun r = CliRun.run(all.toArray(String[]::new));
    assertEquals(2, r.exitCode(), r.toString());
    assertEquals("", r.out(), r.toString());
    String first = r.errLines().getFirst();
    assertTrue(first.contains(expected), r.toString());
    assertTrue(first.startsWith("producer: "), r.toString());
    assertTrue(r.errLines().size() <= 2, r.toString());
    assertFalse(r.err().contains("Exception"), r.toString());
    assertFalse(r.err().contains("secret"), r.toString());
  }

  @Test
  void helpListsEveryFlag() {
    CliRun r = CliRun.run("publish", "--help");
    assertEquals(0, r.exitCode(), r.toString());
    for (String flag :
        List.of(
            "--type",
            "--payload",
            "--payload-file",
            "--queue",
            "--count",
            "--timeout",
            "--grace",
            "--max-attempts",
            "--expires-in",
            "--id",
            "--wait",
            "--wait-timeout",
            "--json",
            "--from",
            "--uri",
            "--namespace")) {
      assertTrue(
          Pattern.compile("  " + Pattern.quote(flag) + "[=\\s]").matcher(r.out()).find(),
          flag + " missing from help:\n" + r.out());
    }
  }

  @Test
  void programHelpAndMissingCommand() {
    CliRun help = CliRun.run("--help");
    assertEquals(0, help.exitCode());
    assertTrue(help.out().contains("publish"), help.toString());

    CliRun none = CliRun.run();
    assertEquals(2, none.exitCode(), none.toString());
    assertTrue(none.err().startsWith("producer: missing command"), none.toString());
  }
}
