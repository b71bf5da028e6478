package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommandReportTest {

  private static final ControlMessage STOP_ALL =
      new ControlMessage("c1", Command.STOP, Target.all(), false, Instant.now(), "test@host");

  private static final ControlMessage STOP_TASKS =
      new ControlMessage(
          "c1",
          Command.STOP,
          new Target.Tasks(List.of("a", "b", "queued")),
          false,
          Instant.now(),
          "u@h");

  private static Event applied(String worker, List<String> stopped, List<String> revoked) {
    return new Event.Applied(
        new CommandApplied(
            "c1", Command.STOP, worker, stopped, List.of(), revoked, false, Instant.now(), "u@h"));
  }

  private static Event task(String id, TaskState state) {
    return new Event.Task(
        new TaskEvent(
            id,
            "sleep",
            state,
            "w1",
            1,
            Instant.now(),
            5L,
            Cause.USER_STOP,
            null,
            "u@h",
            null,
            null));
  }

  private static String text(CommandReport report) {
    StringWriter out = new StringWriter();
    report.print(new PrintWriter(out), new PrintWriter(new StringWriter()));
    return out.toString();
  }

  /** A tracker whose discovery round found {@code workers}. */
  private static CommandTracker discovered(String command, List<String> workers) {
    CommandTracker tracker = new CommandTracker(command);
    tracker.discovered(workers);
    return tracker;
  }

  @Test
  void aCommandIsNotDoneBeforeItsDiscoveryRoundEndedEvenIfTheFirstWorkerAnswered()
      throws Exception {
    CommandTracker tracker = new CommandTracker("c1");
    tracker.publishing();
    tracker.accept(applied("w1", List.of(), List.of()));
    assertFalse(tracker.await(Duration.ofMillis(10)), "whom to wait for is not known yet");
    tracker.discovered(List.of("w1", "w2"));
    assertFalse(tracker.await(Duration.ofMillis(10)), "w2 has not answered");
    tracker.accept(applied("w2", List.of(), List.of()));
    assertTrue(tracker.await(Duration.ofSeconds(1)));
  }

  @Test
  void reportsPerWorkerWhatSettledAndRevokesTasksThatRanNowhere() throws Exception {
    CommandTracker tracker = discovered("c1", List.of("w1", "w2"));
    tracker.publishing();
    tracker.accept(applied("w1", List.of("a", "b"), List.of("queued")));
    tracker.accept(task("a", TaskState.RUNNING));
    tracker.accept(task("a", TaskState.CANCELLED));
    assertFalse(tracker.await(Duration.ofMillis(10)));
    tracker.accept(task("b", TaskState.REQUEUED));
    tracker.accept(applied("w2", List.of(), List.of("queued")));
    assertTrue(tracker.await(Duration.ofSeconds(1)));

    CommandReport report =
        CommandReport.of(
            STOP_TASKS, List.of("w1", "w2"), List.of(), 0, tracker, true, Duration.ofSeconds(5));
    assertTrue(report.ok());
    assertEquals(List.of("queued"), report.revoked());
    List<String> lines = text(report).lines().toList();
    assertEquals("stop c1 (issued by u@h)", lines.get(0));
    assertTrue(
        lines
            .get(1)
            .matches(
                "w1: stopped 2 task\\(s\\): a cancelled \\(user-stop\\) \\d+ ms,"
                    + " b requeued \\(user-stop\\) \\d+ ms"),
        lines.get(1));
    assertTrue(lines.get(2).matches("w2: nothing matched \\(\\d+ ms\\)"), lines.get(2));
    assertEquals("queued: not running; revoked, will be cancelled when it arrives", lines.get(3));
  }

  @Test
  void aSilentWorkerOrAnUnsettledTaskIsAFailure() {
    CommandTracker tracker = discovered("c1", List.of("w1", "w2"));
    tracker.publishing();
    tracker.accept(applied("w1", List.of("a"), List.of()));
    CommandReport report =
        CommandReport.of(
            STOP_TASKS, List.of("w1", "w2"), List.of(), 0, tracker, true, Duration.ofSeconds(5));
    assertFalse(report.ok());
    assertEquals(List.of("w2"), report.noAnswer());
    assertEquals(List.of("a"), report.unsettled());
    String text = text(report);
    assertTrue(text.contains("w1: stopped 1 task(s): a not settled"), text);
    assertTrue(text.contains("w2: did not answer within 5s"), text);
  }

  @Test
  void withNoWaitATaskNotYetSettledIsNoFailure() {
    CommandTracker tracker = discovered("c1", List.of("w1"));
    tracker.publishing();
    // The acknowledgement came in before the subscription closed; the task settles later.
    tracker.accept(applied("w1", List.of("a"), List.of()));
    CommandReport report =
        CommandReport.of(
            STOP_TASKS, List.of("w1"), List.of(), 0, tracker, false, Duration.ofSeconds(5));
    assertTrue(report.ok(), text(report));
  }

  @Test
  void acknowledgementsForOtherCommandsAndEarlierEventsAreIgnored() throws Exception {
    CommandTracker tracker = discovered("c1", List.of("w1"));
    tracker.accept(applied("w1", List.of(), List.of()));
    tracker.publishing();
    tracker.accept(
        new Event.Applied(
            new CommandApplied(
                "other", Command.STOP, "w1", List.of(), List.of(), List.of(), false, null, null)));
    assertFalse(tracker.await(Duration.ofMillis(10)));
  }

  @Test
  void withoutWorkersItSaysSo() {
    CommandTracker tracker = discovered("c1", List.of());
    tracker.publishing();
    CommandReport report =
        CommandReport.of(STOP_TASKS, List.of(), List.of(), 0, tracker, true, Duration.ofSeconds(5));
    assertTrue(report.ok());
    String text = text(report);
    assertTrue(text.startsWith("no live workers answered; stop c1 published"), text);
    assertTrue(text.contains("a: not running; revoked"), text);
  }

  @Test
  void aNamedWorkerThatIsNotLiveFailsEvenWithoutWaiting() {
    ControlMessage m =
        new ControlMessage(
            "c1", Command.KILL, new Target.Workers(List.of("w9")), false, Instant.now(), "u@h");
    CommandTracker tracker = discovered("c1", List.of());
    CommandReport report =
        CommandReport.of(m, List.of(), List.of(), 0, tracker, false, Duration.ofSeconds(5));
    assertFalse(report.ok());
    assertEquals(List.of("w9"), report.noAnswer());
  }

  @Test
  void pauseReportsWhoIsPausedNow() {
    ControlMessage m =
        new ControlMessage("c1", Command.PAUSE, Target.all(), false, Instant.now(), "u@h");
    CommandTracker tracker = discovered("c1", List.of("w1"));
    tracker.publishing();
    tracker.accept(
        new Event.Applied(
            new CommandApplied(
                "c1", Command.PAUSE, "w1", List.of(), List.of(), List.of(), true, null, null)));
    String text =
        text(
            CommandReport.of(m, List.of("w1"), List.of(), 0, tracker, true, Duration.ofSeconds(5)));
    assertTrue(text.lines().anyMatch(l -> l.matches("w1: paused \\(\\d+ ms\\)")), text);
  }

  @Test
  void withRequeueANamedTaskThatRanNowhereIsNotRevoked() {
    ControlMessage m =
        new ControlMessage(
            "c1", Command.STOP, new Target.Tasks(List.of("q1")), true, Instant.now(), "u@h");
    CommandTracker tracker = discovered("c1", List.of());
    tracker.publishing();
    CommandReport report =
        CommandReport.of(m, List.of(), List.of(), 0, tracker, true, Duration.ofSeconds(5));
    assertEquals(List.of(), report.revoked());
    assertEquals(List.of("q1"), report.notRunning());
    assertTrue(text(report).contains("q1: not running; nothing to requeue"));
  }

  @Test
  void aWorkerThatEndsItselfOverAKillIsNamed() {
    ControlMessage m =
        new ControlMessage("c1", Command.KILL, Target.all(), false, Instant.now(), "u@h");
    CommandTracker tracker = discovered("c1", List.of("w1"));
    tracker.publishing();
    tracker.accept(
        new Event.Applied(
            new CommandApplied(
                "c1", Command.KILL, "w1", List.of(), List.of("s"), List.of(), false, null, null)));
    tracker.accept(
        new Event.Worker(
            new WorkerEvent("w1", WorkerEvent.TERMINATING, Instant.now(), List.of("s"), null, 1L)));
    tracker.accept(task("s", TaskState.CANCELLED));
    String text =
        text(
            CommandReport.of(m, List.of("w1"), List.of(), 0, tracker, true, Duration.ofSeconds(5)));
    assertTrue(
        text.contains("w1: killed 1 task(s): s cancelled (user-stop) ")
            && text.contains("; worker terminating: a task did not end within its kill grace"),
        text);
  }

  private static Event refused(String worker, String reason) {
    return new Event.Refused(
        new CommandRefused("c1", Command.STOP, worker, reason, Instant.now(), "u@h"));
  }

  private static String err(CommandReport report) {
    StringWriter err = new StringWriter();
    report.print(new PrintWriter(new StringWriter()), new PrintWriter(err));
    return err.toString();
  }

  @Test
  void whenEveryWorkerRefusesNothingIsClaimedRevokedAndItFails() throws Exception {
    CommandTracker tracker = discovered("c1", List.of("s1", "s2"));
    tracker.publishing();
    tracker.accept(refused("s1", "unsigned"));
    assertFalse(tracker.await(Duration.ofMillis(10)), "s2 has not answered yet");
    tracker.accept(refused("s2", "stale (issued 75 s ago)"));
    assertTrue(tracker.await(Duration.ofSeconds(1)));

    CommandReport report =
        CommandReport.of(STOP_TASKS, List.of(), List.of(), 0, tracker, true, Duration.ofSeconds(5));

    assertFalse(report.ok());
    assertEquals(List.of(), report.revoked());
    assertEquals(List.of(), report.noAnswer());
    String text = text(report);
    assertFalse(text.contains("revoked"), text);
    assertFalse(text.contains("no live workers"), text);
    assertTrue(text.contains("s1: refused (unsigned)"), text);
    String err = err(report);
    assertTrue(
        err.contains("refused by s1: unsigned — set CONVEYOR_CONTROL_KEY (or --control-key-file)"),
        err);
    assertTrue(err.contains("refused by s2: stale (issued 75 s ago) — the clocks"), err);
  }

  @Test
  void oneWorkerRefusingFailsTheCommandButWhatTheOthersDidIsReported() throws Exception {
    CommandTracker tracker = discovered("c1", List.of("w1", "s1"));
    tracker.publishing();
    tracker.accept(applied("w1", List.of(), List.of("a", "b", "queued")));
    tracker.accept(refused("s1", "bad signature"));
    assertTrue(tracker.await(Duration.ofSeconds(1)));

    CommandReport report =
        CommandReport.of(
            STOP_TASKS, List.of("w1", "s1"), List.of(), 0, tracker, true, Duration.ofSeconds(5));

    assertFalse(report.ok());
    assertEquals(List.of("a", "b", "queued"), report.revoked(), "w1 revoked them");
    assertTrue(err(report).contains("refused by s1: bad signature — this control key"));
  }

  /**
   * Workers the broker counts as hearing commands that did not answer the status round are said to
   * be there: the command may not have reached them (stuck, unbound from the exchange, or a lost
   * connection the broker still holds).
   */
  @Test
  void workersCountedButSilentAreReported() {
    CommandTracker tracker = discovered("c1", List.of());
    tracker.publishing();
    CommandReport report =
        CommandReport.of(STOP_ALL, List.of(), List.of(), 2, tracker, true, Duration.ofSeconds(5));
    assertEquals(2, report.silentWorkers());
    assertTrue(
        text(report).contains("2 more worker(s) hear commands, by the broker's count, but did not"),
        () -> text(report));
    assertTrue(
        text(report).contains("or a lost connection the broker has not closed yet"),
        () -> text(report));

    CommandReport none =
        CommandReport.of(STOP_ALL, List.of(), List.of(), 0, tracker, true, Duration.ofSeconds(5));
    assertEquals(null, none.silentWorkers());
    assertFalse(text(none).contains("more worker(s)"), () -> text(none));
  }

  @Test
  void withoutWaitingARefusedStatusRoundStandsForTheRefusal() {
    CommandTracker tracker = discovered("c1", List.of("s1"));
    tracker.publishing();
    CommandReport report =
        CommandReport.of(
            STOP_TASKS,
            List.of(),
            List.of(new CommandRefused("st", Command.STATUS, "s1", "unsigned", null, null)),
            0,
            tracker,
            false,
            Duration.ofSeconds(5));
    assertFalse(report.ok());
    assertEquals(List.of(new CommandReport.Refused("s1", "unsigned")), report.refused());
    String text = text(report);
    assertFalse(text.contains("no live workers"), text);
    assertTrue(text.contains("s1: refused (unsigned)"), text);
  }
}
