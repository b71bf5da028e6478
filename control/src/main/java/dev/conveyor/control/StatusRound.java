package dev.conveyor.control;

import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.WorkerStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Collects the answers to a status broadcast: status replies, and refusals from workers that would
 * not obey it (a control key). There is no registry of workers, so a round lasts until the timeout,
 * but ends early once every expected worker answered, or — when no worker was named — once answers
 * stop coming. A named worker that answers late is still waited for, up to the timeout.
 */
final class StatusRound {
  private StatusRound() {}

  /** What a worker said. */
  sealed interface Answer {
    String worker();
  }

  record Reply(WorkerStatus status) implements Answer {
    @Override
    public String worker() {
      return status.worker();
    }
  }

  record Refusal(CommandRefused refused) implements Answer {
    @Override
    public String worker() {
      return refused.worker();
    }
  }

  /** The replies ordered by worker name, and the refusals. */
  record Result(List<WorkerStatus> statuses, List<CommandRefused> refusals) {
    static final Result NONE = new Result(List.of(), List.of());

    /** Every worker that answered, either way. */
    List<String> answered() {
      List<String> names = new ArrayList<>(statuses.stream().map(WorkerStatus::worker).toList());
      refusals.stream().map(CommandRefused::worker).forEach(names::add);
      return names.stream().distinct().toList();
    }
  }

  static Result collect(
      BlockingQueue<Answer> answers, Set<String> expected, Duration timeout, Duration quiet) {
    Map<String, WorkerStatus> byWorker = new TreeMap<>();
    Map<String, CommandRefused> refusals = new TreeMap<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (true) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        boolean cutEarly = expected.isEmpty() && !(byWorker.isEmpty() && refusals.isEmpty());
        long wait = cutEarly ? Math.min(left, quiet.toNanos()) : left;
        Answer answer = answers.poll(wait, TimeUnit.NANOSECONDS);
        if (answer == null) {
          if (cutEarly) {
            break;
          }
          continue;
        }
        if (answer.worker() == null) {
          continue;
        }
        switch (answer) {
          case Reply r -> byWorker.put(r.worker(), r.status());
          case Refusal r -> refusals.put(r.worker(), r.refused());
        }
        if (!expected.isEmpty() && answeredAll(expected, byWorker, refusals)) {
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<CommandRefused> refused = new ArrayList<>(refusals.values());
    refused.sort(Comparator.comparing(CommandRefused::worker));
    return new Result(new ArrayList<>(byWorker.values()), refused);
  }

  private static boolean answeredAll(
      Set<String> expected, Map<String, ?> replies, Map<String, ?> refusals) {
    return expected.stream().allMatch(w -> replies.containsKey(w) || refusals.containsKey(w));
  }
}
