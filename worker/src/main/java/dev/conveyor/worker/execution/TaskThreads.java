package dev.conveyor.worker.execution;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's threads. They run two kinds of work: amqp-client's consumer callbacks ({@link
 * #execute}: the deliveries, the commands), and the tasks ({@link #tasks()}), at most {@code
 * concurrency} of them at once. There are {@code dispatchers} threads more than task slots, one for
 * each channel that consumes (amqp-client dispatches a channel's callbacks one at a time), so a
 * delivery or a command never waits for a thread, however long the tasks run.
 *
 * <p>A thread that has just dispatched a delivery runs the task that delivery queued itself, next,
 * instead of waking another thread for it: with a separate pool, each task cost one more thread
 * wake-up, which on a host where a wake-up is a call to the hypervisor was a tenth of the worker's
 * CPU per task (docs/benchmarks.md). Only the first task a dispatch queues is kept for its own
 * thread; any more wake idle threads, and so does a task queued from any other thread. (amqp-client
 * may hand one thread several deliveries in a row: should a later one make it wait, as a rejected
 * task's dead letter waits for its confirm, the task kept for it waits too.)
 *
 * <p>Idle threads park on a stack, so the most recently busy thread is woken first. {@link
 * #shutdown} lets what was queued run; {@link #shutdownNow} (the worker's close) interrupts what
 * runs and returns what was queued.
 */
public final class TaskThreads extends AbstractExecutorService {
  private static final Logger log = LoggerFactory.getLogger(TaskThreads.class);

  private final ConcurrentLinkedQueue<Runnable> dispatch = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Runnable> queued = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queuedCount = new AtomicInteger();
  private final ConcurrentLinkedDeque<Slot> idle = new ConcurrentLinkedDeque<>();
  private final AtomicInteger permits;
  private final List<Slot> slots = new ArrayList<>();
  private final Tasks tasks = new Tasks();
  private volatile boolean closed;

  /** Set by {@link #shutdownNow}: what is queued is dropped, not run. */
  private volatile boolean abandoned;

  /** The slot of the current thread, if it is one of ours. */
  private static final ThreadLocal<Slot> CURRENT = new ThreadLocal<>();

  /**
   * @param concurrency how many tasks run at once
   * @param dispatchers how many channels consume at once: threads beyond the task slots
   * @param prefix the threads' names, numbered from 1
   */
  public TaskThreads(int concurrency, int dispatchers, String prefix) {
    if (concurrency < 1 || dispatchers < 1) {
      throw new IllegalArgumentException(
          "concurrency and dispatchers must be >= 1: " + concurrency + ", " + dispatchers);
    }
    this.permits = new AtomicInteger(concurrency);
    for (int i = 1; i <= concurrency + dispatchers; i++) {
      slots.add(new Slot(prefix + "-" + i));
    }
    slots.forEach(s -> s.thread.start());
  }

  /** The tasks' side: runs each task on one of these threads, at most concurrency at once. */
  public Tasks tasks() {
    return tasks;
  }

  /** amqp-client's consumer callbacks: run at once by an idle thread. */
  @Override
  public void execute(Runnable job) {
    if (closed) {
      throw new RejectedExecutionException("task threads closed");
    }
    dispatch.offer(job);
    wakeOne();
  }

  private void queueTask(Runnable task) {
    if (closed) {
      throw new RejectedExecutionException("task threads closed");
    }
    queued.offer(task);
    queuedCount.incrementAndGet();
    Slot self = CURRENT.get();
    if (self != null && self.dispatching && !self.reserved) {
      self.reserved = true; // it runs this one itself once its dispatch is done
    } else {
      wakeOne();
    }
  }

  private boolean withdraw(Runnable task) {
    if (queued.remove(task)) {
      queuedCount.decrementAndGet();
      return true;
    }
    return false;
  }

  private void wakeOne() {
    Slot s = idle.poll();
    if (s != null) {
      s.parked = false;
      LockSupport.unpark(s.thread);
    }
  }

  private boolean takePermit() {
    int p;
    do {
      p = permits.get();
      if (p <= 0) {
        return false;
      }
    } while (!permits.compareAndSet(p, p - 1));
    return true;
  }

  /** Whether an idle thread would find work. */
  private boolean workWaiting() {
    return !dispatch.isEmpty() || (queuedCount.get() > 0 && permits.get() > 0);
  }

  private final class Slot implements Runnable {
    final Thread thread;
    volatile boolean parked;

    /** Running one of amqp-client's callbacks (read and written by its own thread only). */
    boolean dispatching;

    /** A task queued by this thread's dispatch, which it runs next (its own thread only). */
    boolean reserved;

    Slot(String name) {
      this.thread = Thread.ofPlatform().name(name).daemon().unstarted(this);
    }

    @Override
    public void run() {
      CURRENT.set(this);
      while (!abandoned) {
        boolean taskFirst = reserved;
        reserved = false;
        if ((taskFirst && runTask()) || runDispatch() || runTask()) {
          continue;
        }
        if (closed) {
          // Nothing this thread may take: what is queued waits for a slot, whose thread takes it.
          return;
        }
        parked = true;
        idle.push(this);
        if ((workWaiting() || closed) && idle.remove(this)) {
          parked = false;
          continue;
        }
        while (parked && !closed) {
          LockSupport.park(TaskThreads.this);
        }
      }
    }

    private boolean runDispatch() {
      Runnable job = dispatch.poll();
      if (job == null) {
        return false;
      }
      Thread.interrupted(); // a kill's interrupt belongs to the task it was aimed at, not to this
      dispatching = true;
      try {
        job.run();
      } catch (Throwable t) {
        log.error("consumer callback failed", t);
      } finally {
        dispatching = false;
      }
      return true;
    }

    private boolean runTask() {
      if (!takePermit()) {
        return false;
      }
      try {
        Runnable task = queued.poll();
        if (task == null) {
          return false;
        }
        queuedCount.decrementAndGet();
        try {
          task.run();
        } catch (Throwable t) {
          log.error("task run failed", t);
        }
        return true;
      } finally {
        permits.incrementAndGet();
        Thread.interrupted();
      }
    }
  }

  /** The task side of {@link TaskThreads}: what {@link TaskRunner} submits its runs to. */
  public final class Tasks extends AbstractExecutorService {
    private Tasks() {}

    @Override
    public void execute(Runnable task) {
      queueTask(task);
    }

    /**
     * Takes a task out of the queue before it starts.
     *
     * @return whether it was still queued
     */
    public boolean remove(Runnable task) {
      return withdraw(task);
    }

    /** How many tasks wait for a slot. */
    public int queued() {
      return queuedCount.get();
    }

    @Override
    public void shutdown() {
      TaskThreads.this.shutdown();
    }

    @Override
    public List<Runnable> shutdownNow() {
      return TaskThreads.this.shutdownNow();
    }

    @Override
    public boolean isShutdown() {
      return closed;
    }

    @Override
    public boolean isTerminated() {
      return TaskThreads.this.isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return TaskThreads.this.awaitTermination(timeout, unit);
    }
  }

  /** Takes nothing more; the threads run what was queued before, then end. */
  @Override
  public void shutdown() {
    closed = true;
    slots.forEach(s -> LockSupport.unpark(s.thread));
  }

  /** Takes nothing more, interrupts what runs, and returns the tasks that never started. */
  @Override
  public List<Runnable> shutdownNow() {
    abandoned = true;
    shutdown();
    slots.forEach(s -> s.thread.interrupt());
    List<Runnable> left = new ArrayList<>();
    Runnable r;
    while ((r = queued.poll()) != null) {
      left.add(r);
    }
    return left;
  }

  @Override
  public boolean isShutdown() {
    return closed;
  }

  @Override
  public boolean isTerminated() {
    return closed && slots.stream().noneMatch(s -> s.thread.isAlive());
  }

  /**
   * Waits for every thread to end. Whether each has ended is asked of {@link Thread#isAlive}, as
   * {@link #isTerminated} asks it: {@code Thread.join(Duration)} answers from the thread's state,
   * and was seen to answer false for a thread that was just ending, before the others had been
   * waited for.
   */
  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    long end = System.nanoTime() + unit.toNanos(timeout);
    for (Slot s : slots) {
      for (long left; s.thread.isAlive() && (left = end - System.nanoTime()) > 0; ) {
        s.thread.join(Duration.ofNanos(left));
      }
    }
    return isTerminated();
  }
}
