package dev.conveyor.control;

import dev.conveyor.protocol.wire.WorkerStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Collects status replies. There is no registry of workers, so a round lasts until the timeout, but
 * ends early once every expected worker answered, or — when no worker was named — once replies stop
 * coming. A named worker that answers late is still waited for, up to the timeout.
 */
final class StatusRound {
  private StatusRound() {}

  static List<WorkerStatus> collect(
      BlockingQueue<WorkerStatus> replies, Set<String> expected, Duration timeout, Duration quiet) {
    Map<String, WorkerStatus> byWorker = new TreeMap<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (true) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        boolean cutEarly = expected.isEmpty() && !byWorker.isEmpty();
        long wait = cutEarly ? Math.min(left, quiet.toNanos()) : left;
        WorkerStatus reply = replies.poll(wait, TimeUnit.NANOSECONDS);
        if (reply == null) {
          if (cutEarly) {
            break;
          }
          continue;
        }
        if (reply.worker() == null) {
          continue;
        }
        byWorker.put(reply.worker(), reply);
        if (!expected.isEmpty() && byWorker.keySet().containsAll(expected)) {
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return new ArrayList<>(byWorker.values());
  }
}
