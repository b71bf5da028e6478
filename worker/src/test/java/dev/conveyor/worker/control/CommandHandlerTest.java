package dev.conveyor.worker.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.testkit.ManualScheduler;
import dev.conveyor.worker.execution.EscalationLadder;
import dev.conveyor.worker.execution.Lease;
import dev.conveyor.worker.execution.LeaseScope;
import dev.conveyor.worker.execution.RunningTasks;
import dev.conveyor.worker.execution.Stage;
import dev.conveyor.worker.execution.TaskRun;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Commands applied to a worker's tasks, with no broker: the ladder runs on a manual clock. */
class CommandHandlerTest {

  private static final ControlSigner SIGNER =
      new ControlSigner("a-key-of-some-length".getBytes(StandardCharsets.UTF_8));

  private final ManualScheduler timer = new ManualScheduler();
  private final List<TaskRun> notStarted = new CopyOnWriteArrayList<>();
  private final EscalationLadder ladder =
      new EscalationLadder(timer, Duration.ofSeconds(5), r -> {}, (s, e) -> {}, notStarted::add);
  private final RunningTasks running = new RunningTasks("w1");
  private final Revocations revocations = new Revocations();
  private final List<CommandApplied> applied = new CopyOnWriteArrayList<>();
  private final List<CommandRefused> refused = new CopyOnWriteArrayList<>();
  private final List<Object> replies = new CopyOnWriteArrayList<>();
  private final List<String> counted = new CopyOnWriteArrayList<>();
  private final AtomicBoolean paused = new AtomicBoolean();

  private final Pausable intake =
      new Pausable() {
        @Override
        public void pause() {
          paused.set(true);
        }

        @Override
        public void resume() {
          paused.set(false);
        }

        @Override
        public boolean paused() {
          return paused.get();
        }
      };

  private CommandHandler handler(Optional<ControlSigner> key) {
    return new CommandHandler(
        "w1",
        running,
        ladder,
        revocations,
        new CommandVerifier(key),
        intake,
        () -> new WorkerStatus("w1", "h", 1, List.of("default"), 4, paused.get(), null, List.of()),
        new CommandHandler.Answers() {
          @Override
          public void applied(CommandApplied a) {
            applied.add(a);
          }

          @Override
          public void refused(CommandRefused r) {
            refused.add(r);
          }

          @Override
          public void reply(String replyTo, String correlationId, Object body) {
            replies.add(body);
          }
        },
        new CommandHandler.Observer() {
          @Override
          public void applied(String command) {
            counted.add("applied " + command);
          }

          @Override
          public void refused(String reason) {
            counted.add("refused " + reason);
          }
        });
  }

  private TaskRun running(String id, String type) {
    TaskRun run =
        new TaskRun(
            new TaskMessage(id, type, null, null, null, null, null, null),
            new Lease(
                null, 1, "default", new AMQP.BasicProperties(), new byte[0], new LeaseScope()),
            1,
            null);
    running.add(run);
    run.start(new Thread(() -> {}), null);
    return run;
  }

  private static ControlMessage command(Command c, Target target) {
    return new ControlMessage("c-" + c.wire(), c, target, false, Instant.now(), "me@host");
  }

  private static byte[] body(ControlMessage m) {
    return Wire.encode(m);
  }

  @Test
  void aStopOfNamedTasksStopsTheRunningOneAndRevokesTheOther() {
    TaskRun a = running("a", "sleep");
    handler(Optional.empty())
        .handle(
            body(command(Command.STOP, new Target.Tasks(List.of("a", "later")))),
            Map.of(),
            null,
            null);
    assertThat(a.token().isCancelled()).isTrue();
    assertThat(a.stage()).isEqualTo(Stage.STOPPING);
    assertThat(applied)
        .singleElement()
        .satisfies(
            x -> {
              assertThat(x.stopped()).containsExactly("a");
              assertThat(x.revoked()).containsExactly("later");
            });
    assertThat(revocations.find("later")).isPresent();
    assertThat(counted).containsExactly("applied stop");
  }

  /** Prefetched, waiting for a thread: a stop ends it at once, and it never starts. */
  @Test
  void aStopOfAPrefetchedTaskEndsItBeforeItStarts() {
    TaskRun waiting =
        new TaskRun(
            new TaskMessage("p", "sleep", null, null, null, null, null, null),
            new Lease(
                null, 2, "default", new AMQP.BasicProperties(), new byte[0], new LeaseScope()),
            1,
            null);
    running.add(waiting);
    assertThat(waiting.stage()).isEqualTo(Stage.PREFETCHED);
    handler(Optional.empty())
        .handle(body(command(Command.STOP, Target.all())), Map.of(), null, null);
    assertThat(notStarted).containsExactly(waiting);
    assertThat(applied.getFirst().stopped()).containsExactly("p");
    assertThat(waiting.start(Thread.currentThread(), null))
        .as("it may not start any more")
        .isFalse();
  }

  @Test
  void aKillByTypeRunsKillHooksOfThatTypeOnly() {
    TaskRun spin = running("a", "spin");
    TaskRun sleep = running("b", "sleep");
    AtomicInteger hooks = new AtomicInteger();
    spin.onKill(hooks::incrementAndGet);
    sleep.onKill(() -> hooks.addAndGet(100));
    handler(Optional.empty())
        .handle(
            body(command(Command.KILL, new Target.Types(List.of("spin")))), Map.of(), null, null);
    assertThat(hooks).hasValue(1);
    assertThat(applied.getFirst().killed()).containsExactly("a");
    assertThat(timer.pending()).as("one stuck check").isOne();
  }

  @Test
  void aCommandForAnotherWorkerIsNeitherAppliedNorAnswered() {
    TaskRun a = running("a", "sleep");
    handler(Optional.empty())
        .handle(
            body(command(Command.STOP, new Target.Workers(List.of("w2")))), Map.of(), null, null);
    assertThat(a.token().isCancelled()).isFalse();
    assertThat(applied).isEmpty();
  }

  @Test
  void pauseAndResumeAreAppliedAndAnswered() {
    CommandHandler h = handler(Optional.empty());
    h.handle(body(command(Command.PAUSE, Target.all())), Map.of(), null, null);
    assertThat(paused).isTrue();
    h.handle(body(command(Command.RESUME, Target.all())), Map.of(), null, null);
    assertThat(paused).isFalse();
    assertThat(applied)
        .extracting(CommandApplied::verb)
        .containsExactly(Command.PAUSE, Command.RESUME);
  }

  @Test
  void aStatusRequestIsAnsweredToItsReplyQueue() {
    handler(Optional.empty())
        .handle(
            body(command(Command.STATUS, Target.all())), Map.of(), "amq.rabbitmq.reply-to", "x");
    assertThat(replies).singleElement().isInstanceOf(WorkerStatus.class);
  }

  @Test
  void anUnsignedCommandUnderAKeyIsRefusedAnsweredAndCounted() {
    TaskRun a = running("a", "sleep");
    CommandHandler h = handler(Optional.of(SIGNER));
    h.handle(body(command(Command.STOP, Target.all())), Map.of(), null, null);
    assertThat(a.token().isCancelled()).isFalse();
    assertThat(refused)
        .singleElement()
        .satisfies(r -> assertThat(r.reason()).isEqualTo("unsigned"));
    assertThat(counted).containsExactly("refused unsigned");

    byte[] signed = body(command(Command.STOP, Target.all()));
    h.handle(signed, Map.of(Headers.SIGNATURE, SIGNER.sign(signed)), null, null);
    assertThat(a.token().isCancelled()).isTrue();
  }

  @Test
  void aMalformedCommandIsCountedAndDropped() {
    handler(Optional.empty()).handle("{]".getBytes(StandardCharsets.UTF_8), Map.of(), null, null);
    assertThat(applied).isEmpty();
    assertThat(refused).isEmpty();
    assertThat(counted).containsExactly("refused malformed");
  }

  /**
   * A stop or kill for tasks comes twice: through the worker's queue of commands and through the
   * control log. Whichever comes first is applied and answered; the other copy is dropped.
   */
  @Test
  void aKillForTasksHeardFromTheQueueAndTheLogIsAppliedAndAnsweredOnce() {
    TaskRun a = running("a", "sleep");
    AtomicInteger hooks = new AtomicInteger();
    a.onKill(hooks::incrementAndGet);
    ControlMessage kill = command(Command.KILL, new Target.Tasks(List.of("a")));
    CommandHandler h = handler(Optional.empty());
    h.handleLogged(kill, body(kill), Map.of());
    h.handle(body(kill), Map.of(), null, null);
    h.handleLogged(kill, body(kill), Map.of());
    assertThat(hooks).hasValue(1);
    assertThat(applied).singleElement().satisfies(x -> assertThat(x.killed()).containsExactly("a"));
    assertThat(counted).containsExactly("applied kill");
  }

  @Test
  void theSameCommandFromTheQueueTwiceIsAppliedOnce() {
    CommandHandler h = handler(Optional.empty());
    h.handle(body(command(Command.PAUSE, Target.all())), Map.of(), null, null);
    h.handle(body(command(Command.RESUME, Target.all())), Map.of(), null, null);
    h.handle(body(command(Command.PAUSE, Target.all())), Map.of(), null, null);
    assertThat(paused).as("the second copy of the pause is dropped").isFalse();
    assertThat(applied).hasSize(2);
  }

  /**
   * The log may hold another client's commands sent with its routing key: only stops and kills for
   * tasks are taken from it, as the order of the others is the queue's to keep.
   */
  @Test
  void fromTheLogOnlyStopsAndKillsForTasksAreApplied() {
    TaskRun a = running("a", "sleep");
    CommandHandler h = handler(Optional.empty());
    for (ControlMessage m :
        List.of(
            command(Command.PAUSE, Target.all()),
            command(Command.STOP, Target.all()),
            new ControlMessage(
                "requeue",
                Command.STOP,
                new Target.Tasks(List.of("a")),
                true,
                Instant.now(),
                "me"))) {
      h.handleLogged(m, body(m), Map.of());
    }
    assertThat(paused).isFalse();
    assertThat(a.token().isCancelled()).isFalse();
    assertThat(applied).isEmpty();
  }

  /**
   * Under a key, the log's copy is held to the same freshness as the queue's; what it refuses it
   * does not answer, as the log told of it already when it read it.
   */
  @Test
  void aStaleSignedStopFromTheLogIsNeitherAppliedNorAnswered() {
    TaskRun a = running("a", "sleep");
    ControlMessage stale =
        new ControlMessage(
            "old",
            Command.STOP,
            new Target.Tasks(List.of("a")),
            false,
            Instant.now().minus(Duration.ofMinutes(5)),
            "me");
    byte[] b = body(stale);
    handler(Optional.of(SIGNER)).handleLogged(stale, b, Map.of(Headers.SIGNATURE, SIGNER.sign(b)));
    assertThat(a.token().isCancelled()).isFalse();
    assertThat(applied).isEmpty();
    assertThat(refused).isEmpty();
    assertThat(counted).isEmpty();
  }

  /** A copy refused (a forged signature) does not keep the genuine command out. */
  @Test
  void aRefusedCopyDoesNotTakeTheGenuineCommandsPlace() {
    TaskRun a = running("a", "sleep");
    ControlMessage stop = command(Command.STOP, new Target.Tasks(List.of("a")));
    byte[] b = body(stop);
    CommandHandler h = handler(Optional.of(SIGNER));
    h.handle(b, Map.of(Headers.SIGNATURE, "forged"), null, null);
    h.handleLogged(stop, b, Map.of(Headers.SIGNATURE, "forged"));
    assertThat(a.token().isCancelled()).isFalse();
    h.handleLogged(stop, b, Map.of(Headers.SIGNATURE, SIGNER.sign(b)));
    assertThat(a.token().isCancelled()).isTrue();
    assertThat(applied).hasSize(1);
  }

  /** Only the last ids are remembered: memory stays bounded however many commands come. */
  @Test
  void aCommandHeardLongAgoIsAppliedAgain() {
    CommandHandler h = handler(Optional.empty());
    ControlMessage first = command(Command.RESUME, Target.all());
    h.handle(body(first), Map.of(), null, null);
    for (int i = 0; i < CommandHandler.REMEMBERED; i++) {
      ControlMessage m =
          new ControlMessage("n" + i, Command.RESUME, Target.all(), false, Instant.now(), "me");
      h.handle(body(m), Map.of(), null, null);
    }
    h.handle(body(first), Map.of(), null, null);
    assertThat(applied).hasSize(CommandHandler.REMEMBERED + 2);
  }
}
