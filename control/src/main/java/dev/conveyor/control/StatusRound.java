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
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Collects the answers to a status broadcast: status replies, and refusals from workers that would
 * not obey it (a control key). A round lasts until the timeout, but ends early once every expected
 * worker answered, or — when no worker was named — once as many answered as the broker counts
 * listening ({@code ns.workers}' consumers), or else once answers stop coming. A named worker that
 * answers late is still waited for, up to the timeout.
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

  /**
   * The replies ordered by worker name (then host and pid: two workers may answer to one name), the
   * refusals, and how many workers the broker counted listening (0 if unknown or not asked).
   */
  record Result(List<WorkerStatus> statuses, List<CommandRefused> refusals, int listening) {

    static final Result NOBODY = new Result(List.of(), List.of(), 0);

    /**
     * How many workers that the broker counted listening did not answer: a worker that is stuck, or
     * does not hear commands any more.
     */
    int silent() {
      return Math.max(0, listening - statuses.size() - refusals.size());
    }

    /** Names that more than one worker answered to. */
    Set<String> duplicateNames() {
      Map<String, Long> counts =
          statuses.stream()
              .collect(Collectors.groupingBy(WorkerStatus::worker, Collectors.counting()));
      return counts.entrySet().stream()
          .filter(e -> e.getValue() > 1)
          .map(Map.Entry::getKey)
          .collect(Collectors.toCollection(TreeSet::new));
    }

    /** Every worker that answered, either way. */
    List<String> answered() {
      List<String> names = new ArrayList<>(statuses.stream().map(WorkerStatus::worker).toList());
      refusals.stream().map(CommandRefused::worker).forEach(names::add);
      return names.stream().distinct().toList();
    }
  }

  /**
   * @param listening how many workers the broker counts listening to commands, 0 if unknown; a
   *     round for every worker ends once that many answered (and what had already come is taken)
   * @param quiet a round for every worker that has had an answer ends after this long without one
   */
  static Result collect(
      BlockingQueue<Answer> answers,
      Set<String> expected,
      int listening,
      Duration timeout,
      Duration quiet) {
    // Keyed by who answered, not by name: a second worker with the same name must not hide the
    // first. The same worker's reply delivered twice is one.
    Map<Identity, WorkerStatus> byWorker = new TreeMap<>(Identity.ORDER);
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
        take(answer, byWorker, refusals);
        if (!expected.isEmpty() && answeredAll(expected, byWorker, refusals)) {
          break;
        }
        if (expected.isEmpty() && listening > 0 && byWorker.size() + refusals.size() >= listening) {
          // A worker the count missed (it began listening just after) may have answered already.
          for (Answer more; (more = answers.poll()) != null; ) {
            take(more, byWorker, refusals);
          }
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<CommandRefused> refused = new ArrayList<>(refusals.values());
    refused.sort(Comparator.comparing(CommandRefused::worker));
    return new Result(new ArrayList<>(byWorker.values()), refused, listening);
  }

  private static void take(
      Answer answer, Map<Identity, WorkerStatus> byWorker, Map<String, CommandRefused> refusals) {
    if (answer.worker() == null) {
      return;
    }
    switch (answer) {
      case Reply r -> byWorker.put(Identity.of(r.status()), r.status());
      case Refusal r -> refusals.put(r.worker(), r.refused());
    }
  }

  private static boolean answeredAll(
      Set<String> expected, Map<Identity, ?> replies, Map<String, ?> refusals) {
    return expected.stream()
        .allMatch(
            w ->
                refusals.containsKey(w)
                    || replies.keySet().stream().anyMatch(id -> id.worker().equals(w)));
  }

  /** Who answered: a name is not enough to tell two workers apart. */
  private record Identity(String worker, String host, long pid, String startedAt) {
    static final Comparator<Identity> ORDER =
        Comparator.comparing(Identity::worker)
            .thenComparing(Identity::host, Comparator.nullsFirst(Comparator.naturalOrder()))
            .thenComparingLong(Identity::pid)
            .thenComparing(Identity::startedAt, Comparator.nullsFirst(Comparator.naturalOrder()));

    static Identity of(WorkerStatus s) {
      return new Identity(
          s.worker(), s.host(), s.pid(), s.startedAt() == null ? null : s.startedAt().toString());
    }
  }
}
