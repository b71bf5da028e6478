package dev.conveyor.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link ScheduledExecutorService} on a clock of its own: nothing runs until the test calls
 * {@link #advance} or {@link #runDue}, and then on the test's thread, in order of due time (then of
 * submission). Time passes only when the test says so, so timer logic is tested without real time
 * and without races.
 */
public final class ManualScheduler extends AbstractExecutorService
    implements ScheduledExecutorService {

  private final PriorityQueue<Job<?>> queue = new PriorityQueue<>();
  private final AtomicLong sequence = new AtomicLong();
  private long now;
  private boolean shutdown;

  /** The scheduler's clock, in nanoseconds since it was made. */
  public synchronized long nanoTime() {
    return now;
  }

  /** Moves the clock forward, running every job that falls due on the way, at its due time. */
  public void advance(Duration by) {
    long until;
    synchronized (this) {
      until = now + by.toNanos();
    }
    while (true) {
      Job<?> job;
      synchronized (this) {
        job = queue.peek();
        if (job == null || job.due > until) {
          now = until;
          return;
        }
        queue.poll();
        now = Math.max(now, job.due);
      }
      job.runJob();
    }
  }

  /** Runs what is due now (e.g. jobs handed to {@link #execute}) without moving the clock. */
  public void runDue() {
    advance(Duration.ZERO);
  }

  /** Jobs waiting, due or not (cancelled ones are gone). */
  public synchronized int pending() {
    queue.removeIf(Job::isCancelled);
    return queue.size();
  }

  @Override
  public void execute(Runnable command) {
    schedule(command, 0, TimeUnit.NANOSECONDS);
  }

  @Override
  public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    return add(new Job<>(() -> command.run(), null, due(delay, unit), 0));
  }

  @Override
  public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    return add(new Job<>(null, callable, due(delay, unit), 0));
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(
      Runnable command, long initialDelay, long period, TimeUnit unit) {
    return add(new Job<>(command, null, due(initialDelay, unit), unit.toNanos(period)));
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(
      Runnable command, long initialDelay, long delay, TimeUnit unit) {
    return scheduleAtFixedRate(command, initialDelay, delay, unit);
  }

  private synchronized long due(long delay, TimeUnit unit) {
    // Saturated, as ScheduledThreadPoolExecutor does: a delay of Long.MAX_VALUE is never due.
    long nanos = Math.max(0, unit.toNanos(delay));
    return nanos > Long.MAX_VALUE - now ? Long.MAX_VALUE : now + nanos;
  }

  private synchronized <V> Job<V> add(Job<V> job) {
    if (shutdown) {
      throw new java.util.concurrent.RejectedExecutionException("shut down");
    }
    queue.add(job);
    return job;
  }

  @Override
  public synchronized void shutdown() {
    shutdown = true;
  }

  @Override
  public synchronized List<Runnable> shutdownNow() {
    shutdown = true;
    List<Runnable> left = new ArrayList<>(queue);
    queue.clear();
    return left;
  }

  @Override
  public synchronized boolean isShutdown() {
    return shutdown;
  }

  @Override
  public synchronized boolean isTerminated() {
    return shutdown;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return isShutdown();
  }

  private final class Job<V> extends FutureTask<V> implements ScheduledFuture<V> {
    private final long seq = sequence.getAndIncrement();
    private final long period;
    private final Runnable repeated;
    private long due;

    Job(Runnable runnable, Callable<V> callable, long due, long period) {
      super(callable != null ? callable : () -> runAndReturnNull(runnable));
      this.repeated = period > 0 ? runnable : null;
      this.due = due;
      this.period = period;
    }

    void runJob() {
      if (repeated == null) {
        run();
      } else if (runAndReset()) {
        due += period;
        add(this);
      }
    }

    @Override
    public long getDelay(TimeUnit unit) {
      return unit.convert(due - nanoTime(), TimeUnit.NANOSECONDS);
    }

    @Override
    public int compareTo(Delayed other) {
      Job<?> o = (Job<?>) other;
      int byDue = Long.compare(due, o.due);
      return byDue != 0 ? byDue : Long.compare(seq, o.seq);
    }
  }

  private static <V> V runAndReturnNull(Runnable r) {
    r.run();
    return null;
  }
}
