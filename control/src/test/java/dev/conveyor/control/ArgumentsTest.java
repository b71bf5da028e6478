package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.protocol.wire.Target;
import dev.conveyor.testkit.HelpText;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class ArgumentsTest {

  private static Target stopTarget(String... args) {
    StopCommand stop = new StopCommand();
    new CommandLine(stop.spec).parseArgs(args);
    return stop.target();
  }

  @Test
  void taskIdsMayFollowOneFlagOrRepeatIt() {
    Target ab = new Target.Tasks(List.of("a", "b"));
    assertEquals(ab, stopTarget("--task", "a", "b"));
    assertEquals(ab, stopTarget("--task", "a", "--task", "b"));
    assertEquals(ab, stopTarget("--task", "a", "b", "--requeue"));
    assertEquals(ab, stopTarget("--task=a", "--task=b", "--task=a"));
  }

  @Test
  void eachTargetKindMapsToItsWireForm() {
    assertEquals(Target.all(), stopTarget("--all"));
    assertEquals(new Target.Workers(List.of("w1", "w2")), stopTarget("--worker", "w1", "w2"));
    assertEquals(new Target.Types(List.of("sleep")), stopTarget("--type", "sleep"));

    KillCommand kill = new KillCommand();
    new CommandLine(kill.spec).parseArgs("--worker", "w1", "--requeue", "--no-wait");
    assertEquals(new Target.Workers(List.of("w1")), kill.target());
    assertTrue(kill.requeue());
    assertTrue(kill.options.noWait());
    assertFalse(kill.options.json());
  }

  @Test
  void onlyTheNamedSubcommandIsBuiltAndHelpStillListsThemAll() {
    assertEquals(
        Set.of("stop"), ControlMain.commandLine("stop", "--all").getSubcommands().keySet());
    Set<String> all = Set.of("stop", "kill", "pause", "resume", "status", "watch", "dead", "help");
    for (String[] args :
        List.of(
            new String[0],
            new String[] {"--help"},
            new String[] {"help", "stop"},
            new String[] {"stpo"})) {
      assertEquals(
          all, ControlMain.commandLine(args).getSubcommands().keySet(), List.of(args)::toString);
    }
    Control.Result help = Control.run("--help");
    assertEquals(0, help.exit(), help::toString);
    assertTrue(help.out().contains("watch") && help.out().contains("dead"), help::toString);
    Control.Result typo = Control.run("stpo");
    assertEquals(2, typo.exit(), typo::toString);
    assertTrue(typo.err().startsWith("control: Unmatched argument"), typo::toString);
  }

  @Test
  void killWaitsLongerThanTheKillGraceByDefault() {
    KillCommand kill = new KillCommand();
    new CommandLine(kill.spec).parseArgs("--all");
    assertEquals(Duration.ofSeconds(10), kill.options.waitTimeout(kill.verb()));
    StopCommand stop = new StopCommand();
    new CommandLine(stop.spec).parseArgs("--all", "--wait-timeout", "2s");
    assertEquals(Duration.ofSeconds(2), stop.options.waitTimeout(stop.verb()));
    new CommandLine((stop = new StopCommand()).spec).parseArgs("--all");
    assertEquals(Duration.ofSeconds(5), stop.options.waitTimeout(stop.verb()));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "stop",
        "stop --all --task a",
        "stop --task a --worker w",
        "stop --type t --all",
        "stop --task",
        "stop --task a --task",
        "stop --all --bogus",
        "stop --all --wait-timeout soon",
        "kill",
        "kill --type sleep",
        "kill --all --worker w",
        "pause --all",
        "resume --task a",
        "status --timeout soon",
        "status --frobnicate",
        "watch --count 0",
        "watch --for forever",
        "dead",
        "dead list --limit 0",
        "dead replay",
        "dead replay --all --id x",
        "dead purge",
        "dead purge --id",
        "nonsense",
        "",
        "stop --all --uri http://localhost/",
        "stop --all --namespace bad/name",
      })
  void usageErrorsExitTwoWithAClearMessage(String line) {
    Control.Result r = Control.run(line.isEmpty() ? new String[0] : line.split(" "));
    assertEquals(2, r.exit(), r::toString);
    assertEquals("", r.out(), r::toString);
    assertFalse(r.err().isBlank(), r::toString);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "status --timeout 0s | --timeout must be between 1ms and 365d (got 0s)",
        "status --timeout 366d | --timeout must be between 1ms and 365d (got 366d)",
        "stop --all --wait-timeout 0s | --wait-timeout must be between 1ms and 365d (got 0s)",
        "kill --task t --wait-timeout 0ms | --wait-timeout must be between 1ms and 365d",
        "pause --wait-timeout 0s | --wait-timeout must be between 1ms and 365d",
        "stop --all --discover-timeout 0s | --discover-timeout must be between 1ms and 365d",
        "resume --discover-timeout 0ms | --discover-timeout must be between 1ms and 365d",
        "stop --all --no-wait --wait-timeout 2s | --wait-timeout cannot be used with --no-wait",
        "watch --for 0s | --for must be between 1ms and 365d (got 0s)",
        "watch --count 0 | --count must be at least 1 (got 0)",
        "watch --count -3 | --count must be at least 1 (got -3)",
        "dead list --limit 0 | --limit must be at least 1 (got 0)",
        "dead list --limit -1 | --limit must be at least 1 (got -1)",
      })
  void meaninglessNumbersAreRefusedBeforeTheBrokerIsContacted(String line, String message) {
    // An unreachable broker: a check that came after connecting would exit 3 instead.
    List<String> args = new java.util.ArrayList<>(List.of(line.strip().split(" ")));
    args.add("--uri=amqp://guest:guest@127.0.0.1:1");
    Control.Result r = Control.run(args.toArray(String[]::new));
    assertEquals(2, r.exit(), r::toString);
    assertEquals("", r.out(), r::toString);
    assertEquals(1, r.err().lines().count(), r::toString);
    assertTrue(r.err().startsWith("control: " + message.strip()), r::toString);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "stop",
        "kill",
        "pause",
        "resume",
        "status",
        "watch",
        "dead",
        "dead list",
        "dead replay",
        "dead purge"
      })
  void everyCommandHasHelp(String command) {
    Control.Result r = Control.run((command + " --help").trim().split(" "));
    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.out().startsWith("Usage: control"), r::toString);
  }

  @Test
  void everyParagraphOfTheHelpIsWrappedWhole() {
    assertEquals(List.of(), HelpText.sentencesSplitOverLines(ControlMain.commandLine()));
  }

  @Test
  void anUnreachableBrokerExitsThreeWithOneLineAndNoPassword() {
    Control.Result r = Control.run("status", "--uri", "amqp://guest:s3cret@127.0.0.1:1");
    assertEquals(3, r.exit(), r::toString);
    assertTrue(r.err().contains("cannot connect"), r::toString);
    assertFalse(r.err().contains("s3cret"), r::toString);
    assertEquals(1, r.err().lines().count(), r::toString);
  }
}
