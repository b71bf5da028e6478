package dev.conveyor.worker.execution;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The acknowledgements of one consumer channel's deliveries, written in runs: while one ack is
 * being written, the acks that come meanwhile wait and go out together in the next write (a group
 * commit), as one {@code basic.ack} with {@code multiple=true} up to the first delivery still held,
 * and one each for those above it. An idle worker acks each delivery at once; a busy one sends
 * fewer frames and the broker settles fewer times.
 *
 * <p>The thread that finds no write in progress writes, and keeps writing what others queued
 * meanwhile until nothing is left; the others do not wait for it ({@link #ack(long, Written)}):
 * what follows each ack runs on the writing thread once its write is done. A task thread that
 * settled its task thus goes on to the next one instead of sleeping and being woken for every
 * write.
 *
 * <p>A window with slack (a prefetch above the concurrency, {@link Gathering}) also lets acks
 * gather on a busy channel: while its previous write was less than {@link #GATHER_WINDOW} ago, the
 * writing thread waits for the rest of that time, or until half the slack is waiting to be acked,
 * and then acks the run in one frame. An ack above a delivery still held (a task that began earlier
 * and runs on another thread) waits too, up to that window, for the frame that will cover it,
 * rather than going out alone. On a quorum queue every ack frame is a command the queue must log;
 * written one per task, or one per few, they were most of the broker's work (docs/benchmarks.md). A
 * gathering ends early when delaying the acks could idle a thread: when the deliveries held are no
 * more than the threads and the broker has too little credit left to send more. Without slack (the
 * default prefetch) every ack frees a slot the worker needs, and it is written at once. Nor does an
 * ack that a user waits on gather ({@link #ackUrgently}): a stopped or killed task's event follows
 * its ack.
 *
 * <p>{@code multiple=true} acks every unacknowledged delivery of the channel up to a tag, so the
 * window must see every delivery of its channel ({@link #delivered}) before anything is acked, and
 * hear of those settled otherwise ({@link #settledOtherwise}, after the nack is written).
 */
public final class AckWindow {
  private static final Logger log = LoggerFactory.getLogger(AckWindow.class);

  /** Writes one {@code basic.ack} on the channel. */
  @FunctionalInterface
  public interface Writer {
    void ack(long deliveryTag, boolean multiple) throws IOException;
  }

  /** What follows an ack, once the write that carried it is done. */
  @FunctionalInterface
  public interface Written {
    /**
     * @param failure null if the ack was written; else why not ({@link IOException} or a {@link
     *     RuntimeException} of the writer)
     */
    void done(Exception failure);
  }

  /**
   * An ack asked for at {@code since} (by the gathering's clock; 0 without gathering); {@code
   * urgent}: its caller waits for the write, or a user waits for what follows it, so it does not
   * gather.
   */
  private record Pending(long tag, Written then, long since, boolean urgent) {}

  /**
   * The most a busy window with slack lets acks gather after its previous write: long enough that,
   * at the rates a short-task setting drains, half the slack ends a run before the window does
   * (docs/benchmarks.md, twelfth session).
   */
  public static final Duration GATHER_WINDOW = Duration.ofMillis(3);

  /**
   * How acks gather: at most {@code window} after the previous write, until {@code (prefetch -
   * concurrency) / 2} acks wait, unless a thread could go idle. {@code clock} reads nanoseconds;
   * {@code flusher} runs a flush at a clock time. Injected so tests hold a gathering open.
   */
  public record Gathering(
      int concurrency, int prefetch, Duration window, LongSupplier clock, Flusher flusher) {

    /**
     * Acks gather on a channel whose prefetch leaves slack above the concurrency; {@code flushes}
     * runs the flushes (it writes to the broker: not a thread that must be punctual).
     */
    public static Gathering of(int concurrency, int prefetch, ScheduledExecutorService flushes) {
      return new Gathering(
          concurrency,
          prefetch,
          GATHER_WINDOW,
          System::nanoTime,
          (at, flush) -> {
            try {
              flushes.schedule(flush, at - System.nanoTime(), TimeUnit.NANOSECONDS);
              return true;
            } catch (RejectedExecutionException e) {
              return false; // closing
            }
          });
    }

    /** No gathering: every ack is written as soon as no other write is in progress. */
    static final Gathering NONE =
        new Gathering(1, 1, Duration.ZERO, System::nanoTime, (at, flush) -> false);

    boolean gathers() {
      return prefetch - concurrency >= 2 && !window.isZero();
    }
  }

  /**
   * Runs {@code flush} once, at a time of the {@link Gathering#clock} or soon after; false if it
   * cannot (closing): the acks waiting are then written at once.
   */
  @FunctionalInterface
  public interface Flusher {
    boolean at(long nanos, Runnable flush);
  }

  private final Writer writer;
  private final Gathering gathering;

  /** Acks that end a gathering at once. */
  private final int runLength;

  /** When the last write began, by the gathering's clock; one window back: none yet. */
  private long lastWrite;

  /** Delivered, not yet settled, and no ack asked for. */
  private final TreeSet<Long> held = new TreeSet<>();

  /** Acks waiting for a write. */
  private List<Pending> open = new ArrayList<>();

  private boolean writing;

  /** When the flush scheduled last runs, by the gathering's clock; {@link #NO_FLUSH}: none. */
  private long flushScheduledAt = NO_FLUSH;

  private static final long NO_FLUSH = Long.MIN_VALUE;

  /** Acks in {@link #open} that do not gather ({@link #ack(long)}, {@link #ackUrgently}). */
  private int urgentOpen;

  /** A window that writes each ack as soon as no other write is in progress. */
  public AckWindow(Writer writer) {
    this(writer, Gathering.NONE);
  }

  public AckWindow(Writer writer, Gathering gathering) {
    this.writer = writer;
    this.gathering = gathering;
    this.runLength = Math.max(1, (gathering.prefetch() - gathering.concurrency()) / 2);
    this.lastWrite = gathering.clock().getAsLong() - gathering.window().toNanos();
  }

  /** A delivery of this channel, before it is handed on. */
  public synchronized void delivered(long tag) {
    held.add(tag);
  }

  /**
   * A delivery settled without an ack (a nack that was written, or could not be): acks that waited
   * above it, or for the threads it kept busy, may be due now.
   */
  public void settledOtherwise(long tag) {
    synchronized (this) {
      held.remove(tag);
      if (writing || open.isEmpty()) {
        return;
      }
      writing = true;
    }
    write();
  }

  /**
   * Acknowledges a delivery, with whatever other acks are waiting; returns once the write that
   * carried it is done. Its caller waits, so it does not gather: it goes in the next write.
   *
   * @throws IOException if that write failed (the channel or connection is gone)
   */
  public void ack(long tag) throws IOException {
    CompletableFuture<Exception> written = new CompletableFuture<>();
    ack(tag, written::complete, true);
    Exception failure;
    boolean interrupted = false;
    while (true) {
      try {
        failure = written.get();
        break;
      } catch (InterruptedException e) {
        // A settlement must finish: the interrupt is kept for the caller.
        interrupted = true;
      } catch (ExecutionException e) {
        throw new IllegalStateException(e);
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failure instanceof IOException io) {
      throw io;
    }
    if (failure instanceof RuntimeException re) {
      throw re;
    }
  }

  /**
   * Acknowledges a delivery, with whatever other acks are waiting, and runs {@code then} once the
   * write that carried it is done: at once on this thread if the ack is due and no write was in
   * progress (this thread then also writes what others queue meanwhile), else later on the thread
   * writing or on the flush's, while this one goes on.
   */
  public void ack(long tag, Written then) {
    ack(tag, then, false);
  }

  /**
   * Like {@link #ack(long, Written)}, but the ack does not gather: it goes in the next write, with
   * whatever other acks are waiting. For a settlement a user waits on, such as a stopped or killed
   * task's, whose event follows its ack.
   */
  public void ackUrgently(long tag, Written then) {
    ack(tag, then, true);
  }

  private void ack(long tag, Written then, boolean urgent) {
    long now = gathering.gathers() ? gathering.clock().getAsLong() : 0;
    synchronized (this) {
      held.remove(tag);
      open.add(new Pending(tag, then, now, urgent));
      if (urgent) {
        urgentOpen++;
      }
      if (writing) {
        return;
      }
      writing = true;
    }
    write();
  }

  /**
   * Writes the acks that are due, and those queued meanwhile, until none is left or those left must
   * gather; these are left for the next ack, or for a flush at the time they fall due. Called by
   * the thread that set {@link #writing}.
   */
  private void write() {
    boolean gathers = gathering.gathers();
    boolean force = false; // no flush can be scheduled: everything waiting goes now
    while (true) {
      Cut cut;
      long flushAt;
      synchronized (this) {
        long now = gathers ? gathering.clock().getAsLong() : 0;
        if (open.isEmpty()) {
          writing = false;
          return;
        }
        long until = lastWrite + gathering.window().toNanos();
        if (gathers && !force && until - now > 0 && urgentOpen == 0 && !runReady()) {
          cut = null;
          flushAt = until; // too soon after the last write: they gather
        } else {
          cut = cut(now, force);
          flushAt = cut.retryAt(); // if every ack left waits above a delivery still held
        }
        if (cut == null || cut.batch().isEmpty()) {
          writing = false;
          if (flushScheduledAt != NO_FLUSH && flushAt - flushScheduledAt >= 0) {
            return; // a flush comes by then already
          }
          flushScheduledAt = flushAt;
        } else {
          lastWrite = now;
          flushAt = NO_FLUSH;
        }
      }
      if (flushAt != NO_FLUSH) {
        long at = flushAt;
        if (gathering.flusher().at(at, () -> flush(at))) {
          return;
        }
        synchronized (this) {
          if (writing) {
            return; // another thread writes now, and meets the same refusal if it must
          }
          writing = true;
          flushScheduledAt = NO_FLUSH;
        }
        force = true;
        continue;
      }
      Exception failure = null;
      try {
        for (long[] f : cut.frames()) {
          writer.ack(f[0], f[1] == 1);
        }
      } catch (IOException | RuntimeException e) {
        failure = e;
      }
      for (Pending p : cut.batch()) {
        try {
          p.then().done(failure);
        } catch (Throwable t) {
          // One settlement's failure must not strand the others of its run, nor the window.
          log.error("after the ack of delivery {}", p.tag(), t);
        }
      }
    }
  }

  /** A scheduled flush: writes what is due, unless another thread is writing already. */
  private void flush(long scheduledAt) {
    synchronized (this) {
      if (flushScheduledAt == scheduledAt) {
        flushScheduledAt = NO_FLUSH;
      }
      if (writing) {
        return; // that thread writes what is due, or schedules the next flush
      }
      writing = true;
    }
    write();
  }

  /**
   * Whether the acks waiting should go now: none wait (nothing to gather for), enough of them, or a
   * thread could go idle while they wait: the deliveries held would not keep every thread busy, and
   * the broker could not send enough more (its credit is the prefetch less what this channel holds
   * or has yet to ack).
   */
  private synchronized boolean runReady() {
    int c = gathering.concurrency();
    return open.isEmpty()
        || open.size() >= runLength
        || (held.size() <= c && gathering.prefetch() - held.size() - open.size() < c);
  }

  /**
   * What one write carries: the acks waiting below the first delivery still held, in one frame with
   * {@code multiple=true} (everything under it is settled), and those above it one frame each;
   * while acks gather, those above it that are younger than the window stay for a later write
   * ({@code retryAt}: when the oldest of them has waited the window).
   *
   * @param frames {tag, 1 if multiple else 0} per frame
   */
  private record Cut(List<Pending> batch, List<long[]> frames, long retryAt) {}

  /**
   * Takes what the next write carries out of {@link #open}; with {@code force}, all of it. Under
   * the lock.
   */
  private Cut cut(long now, boolean force) {
    long firstHeld = held.isEmpty() ? Long.MAX_VALUE : held.first();
    boolean gathers = gathering.gathers();
    long window = gathering.window().toNanos();
    List<Pending> batch = new ArrayList<>(open.size());
    List<Pending> later = new ArrayList<>();
    List<long[]> out = new ArrayList<>();
    long below = -1;
    int belowCount = 0;
    long retryAt = Long.MAX_VALUE;
    for (Pending p : open) {
      if (p.tag() < firstHeld) {
        below = Math.max(below, p.tag());
        belowCount++;
        batch.add(p);
      } else if (!gathers || force || p.urgent() || now - p.since() >= window) {
        out.add(new long[] {p.tag(), 0});
        batch.add(p);
      } else {
        later.add(p);
        retryAt = Math.min(retryAt, p.since() + window);
      }
    }
    if (belowCount == 1) {
      out.addFirst(new long[] {below, 0});
    } else if (belowCount > 1) {
      out.addFirst(new long[] {below, 1});
    }
    open = later;
    for (Pending p : batch) {
      if (p.urgent()) {
        urgentOpen--;
      }
    }
    return new Cut(batch, out, retryAt);
  }
}
