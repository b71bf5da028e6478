package dev.conveyor.worker.execution;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.testkit.ManualScheduler;
import dev.conveyor.worker.api.TaskCancelledException;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;
import dev.conveyor.worker.api.TaskRejectedException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class TaskRunnerTest {

  static TaskRun run(String id, String type) {
    return new TaskRun(
        new TaskMessage(id, type, null, null, null, 2, null, null),
        new Lease(null, 1, "default", new AMQP.BasicProperties(), new byte[0], new LeaseScope()),
        1,
        null);
  }

  /**
   * A prefetched task that a stop ends before it starts is settled at once, and leaves the task
   * threads' queue too: each such stop frees a slot that the broker fills again, so what it left
   * there, payload and all, would pile up while every thread stays busy.
   */
  /** NaN passed the clamp, and a status reply carried it as the string "NaN". */
  @Test
  void progressIsHeldBetweenZeroAndOneWhateverTheHandlerReports() {
    TaskRun run = run("p", "x");
    assertThat(run.status().progress()).isNull();
    run.progress(Double.NaN);
    assertThat(run.status().progress()).isEqualTo(0.0);
    run.progress(0.5);
    assertThat(run.status().progress()).isEqualTo(0.5);
    run.progress(Double.POSITIVE_INFINITY);
    assertThat(run.status().progress()).isEqualTo(1.0);
    run.progress(-3);
    assertThat(run.status().progress()).isEqualTo(0.0);
  }

  @Test
  void aPrefetchedTaskStoppedBeforeItStartsLeavesTheTaskThreadsQueue() throws Exception {
    TaskThreads threads = new TaskThreads(1, 1, "task-runner-test-task");
    ManualScheduler timer = new ManualScheduler();
    List<Outcome> settled = new CopyOnWriteArrayList<>();
    AtomicReference<TaskRunner> runner = new AtomicReference<>();
    EscalationLadder ladder =
        new EscalationLadder(
            timer,
            Duration.ofSeconds(5),
            r -> {},
            (stage, ending) -> {},
            r -> runner.get().settleUnstarted(r));
    runner.set(
        new TaskRunner(
            threads.tasks(),
            new Watchdog(timer, ladder, Optional.empty(), Duration.ofSeconds(1)),
            r -> {},
            (r, outcome) -> {
              if (r.claimSettlement()) {
                settled.add(outcome);
              }
            }));
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    TaskRun busy =
        new TaskRun(
            new TaskMessage("busy", "x", null, null, null, 1, null, null),
            new Lease(
                null, 1, "default", new AMQP.BasicProperties(), new byte[0], new LeaseScope()),
            1,
            new TaskHandler() {
              @Override
              public String type() {
                return "x";
              }

              @Override
              public Object handle(TaskContext ctx) throws Exception {
                started.countDown();
                release.await();
                return null;
              }
            });
    try {
      runner.get().submit(busy);
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      List<TaskRun> waiting = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        TaskRun r = run("waiting-" + i, "x");
        waiting.add(r);
        runner.get().submit(r);
      }
      assertThat(threads.tasks().queued()).isEqualTo(100);

      for (TaskRun r : waiting) {
        ladder.stop(r, new Ending(Cause.USER_STOP, false, "me"), null);
      }

      assertThat(settled)
          .hasSize(100)
          .allMatch(o -> o.equals(new Outcome.Cancelled(Cause.USER_STOP, "me")));
      assertThat(threads.tasks().queued()).isZero();
    } finally {
      release.countDown();
      threads.shutdown();
      assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void aHandlerThatReturnsSucceedsEvenIfAStopCameLate() {
    TaskRun r = run("a", "sleep");
    r.requestEnding(new Ending(Cause.USER_STOP, false, "me"));
    assertThat(TaskRunner.decide(r, "done", null)).isEqualTo(new Outcome.Succeeded("done"));
  }

  @Test
  void anExceptionWithoutAnEndingIsAFailure() {
    assertThat(TaskRunner.decide(run("a", "x"), null, new IllegalStateException("boom")))
        .isEqualTo(new Outcome.Failed("boom"));
  }

  @Test
  void theFirstEndingDecides() {
    TaskRun r = run("a", "x");
    r.requestEnding(Ending.deadline());
    r.requestEnding(new Ending(Cause.USER_KILL, false, "me"));
    assertThat(TaskRunner.decide(r, null, new TaskCancelledException("deadline")))
        .isInstanceOf(Outcome.TimedOut.class);
  }

  @Test
  void userStopsCancelUnlessRequeueIsAsked() {
    TaskRun stopped = run("a", "x");
    stopped.requestEnding(new Ending(Cause.USER_STOP, false, "me"));
    assertThat(TaskRunner.decide(stopped, null, new InterruptedException()))
        .isEqualTo(new Outcome.Cancelled(Cause.USER_STOP, "me"));
    TaskRun requeued = run("b", "x");
    requeued.requestEnding(new Ending(Cause.USER_KILL, true, "me"));
    assertThat(TaskRunner.decide(requeued, null, new InterruptedException()))
        .isEqualTo(new Outcome.Requeued(Cause.USER_KILL, "me"));
  }

  @Test
  void shutdownRequeues() {
    TaskRun r = run("a", "x");
    r.requestEnding(Ending.shutdown());
    assertThat(TaskRunner.decide(r, null, new InterruptedException()))
        .isEqualTo(new Outcome.Requeued(Cause.SHUTDOWN, null));
  }

  @Test
  void aTaskThatFinishesAfterItsLeaseWasLostKeepsItsOutcome() {
    TaskRun r = run("a", "x");
    r.lease().scope().markLost(true);
    assertThat(TaskRunner.decide(r, "ok", null)).isEqualTo(new Outcome.Succeeded("ok"));
    assertThat(TaskRunner.decide(r, null, new InterruptedException("stopped")))
        .isEqualTo(new Outcome.Requeued(Cause.CONNECTION_LOST, null));
  }

  @Test
  void aRefusalByTheHandlerIsARejection() {
    assertThat(TaskRunner.decide(run("a", "x"), null, new TaskRejectedException("no")))
        .isEqualTo(new Outcome.Rejected("no"));
  }

  @Test
  void targetsMatchByIdTypeWorkerOrAll() {
    RunningTasks tasks = new RunningTasks("w1");
    TaskRun a = run("a", "sleep");
    TaskRun b = run("b", "exec");
    tasks.add(a);
    tasks.add(b);
    assertThat(tasks.matching(Target.all())).containsExactlyInAnyOrder(a, b);
    assertThat(tasks.matching(new Target.Tasks(List.of("b", "zz")))).containsExactly(b);
    assertThat(tasks.matching(new Target.Types(List.of("sleep")))).containsExactly(a);
    assertThat(tasks.matching(new Target.Workers(List.of("w2")))).isEmpty();
    assertThat(tasks.matching(new Target.Workers(List.of("w1")))).hasSize(2);
  }

  @Test
  void aSettlementCanBeClaimedOnce() {
    TaskRun r = run("a", "x");
    assertThat(r.claimSettlement()).isTrue();
    assertThat(r.claimSettlement()).isFalse();
    assertThat(r.isFinished()).isTrue();
  }

  /**
   * A redelivery waits for the run of the same task whose lease was lost until that run's outcome
   * is known (TaskIntake then settles the redelivery with it instead of running the task again):
   * not only while its handler runs, but until its settlement is done. A handler that ended just
   * before the redelivery came would otherwise let the task run a second time, its first outcome
   * announced after the second attempt's start.
   */
  @Test
  void aRunWhoseLeaseWasLostIsWaitedForUntilItsSettlementIsDone() {
    RunningTasks tasks = new RunningTasks("w1");
    TaskRun r = run("a", "x");
    tasks.add(r);
    assertThat(tasks.stillRunningAfterLoss("a")).isEmpty();
    r.lease().scope().markLost(true);
    assertThat(tasks.stillRunningAfterLoss("a")).contains(r);
    assertThat(r.start(Thread.currentThread(), null)).isTrue();
    r.handlerEnded();
    assertThat(tasks.stillRunningAfterLoss("a")).as("handler ended, not settled").contains(r);
    assertThat(r.claimSettlement()).isTrue();
    assertThat(tasks.stillRunningAfterLoss("a")).as("being settled").contains(r);
    r.completed(new Outcome.Requeued(Cause.CONNECTION_LOST, null));
    assertThat(tasks.stillRunningAfterLoss("a")).isEmpty();
  }
}
