package dev.conveyor.worker.execution;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
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
 * default prefetch) every ack frees a slot the worker needs, and it is written at once.
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

  /** An ack asked for at {@code since} (by the gathering's clock; 0 without gathering). */
  private record Pending(long tag, Written then, long since) {}

  /** The most a busy window with slack lets acks gather after its previous write. */
  public static final Duration GATHER_WINDOW = Duration.ofMillis(1);

  /**
   * How acks gather: at most {@code window} after the previous write, until {@code (prefetch -
   * concurrency) / 2} acks wait, unless a thread could go idle. {@code clock} reads nanoseconds;
   * {@code pause} waits until a clock time or until its condition holds. Injected so tests hold a
   * gathering open.
   */
  public record Gathering(
      int concurrency, int prefetch, Duration window, LongSupplier clock, Pause pause) {

    /** Acks gather on a channel whose prefetch leaves slack above the concurrency. */
    public static Gathering of(int concurrency, int prefetch) {
      return new Gathering(concurrency, prefetch, GATHER_WINDOW, System::nanoTime, REAL_PAUSE);
    }

    /** No gathering: every ack is written as soon as no other write is in progress. */
    static final Gathering NONE = new Gathering(1, 1, Duration.ZERO, System::nanoTime, REAL_PAUSE);

    boolean gathers() {
      return prefetch - concurrency >= 2 && !window.isZero();
    }
  }

  /** Waits until a time of the {@link Gathering#clock}, or until {@code ready} says true. */
  @FunctionalInterface
  public interface Pause {
    void until(long nanos, BooleanSupplier ready);
  }

  /** Checks its condition every 50 µs: nobody wakes it, and it waits 1 ms at most. */
  private static final Pause REAL_PAUSE =
      (until, ready) -> {
        long left;
        while (!ready.getAsBoolean() && (left = until - System.nanoTime()) > 0) {
          LockSupport.parkNanos(Math.min(left, 50_000));
        }
      };

  private final Writer writer;
  private final Gathering gathering;

  /** Acks that end a gathering at once. */
  private final int runLength;

  /** When the last write began, by the gathering's clock; one window back: none yet. */
  private volatile long lastWrite;

  /** Delivered, not yet settled, and no ack asked for. */
  private final TreeSet<Long> held = new TreeSet<>();

  /** Acks waiting for a write. */
  private List<Pending> open = new ArrayList<>();

  private boolean writing;

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

  /** A delivery settled without an ack (a nack that was written, or could not be). */
  public synchronized void settledOtherwise(long tag) {
    held.remove(tag);
  }

  /**
   * Acknowledges a delivery, with whatever other acks are waiting; returns once the write that
   * carried it is done.
   *
   * @throws IOException if that write failed (the channel or connection is gone)
   */
  public void ack(long tag) throws IOException {
    CompletableFuture<Exception> written = new CompletableFuture<>();
    ack(tag, written::complete);
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
   * write that carried it is done: at once on this thread if no write was in progress (this thread
   * then also writes what others queue meanwhile), else later on the thread writing, while this one
   * goes on.
   */
  public void ack(long tag, Written then) {
    boolean gathers = gathering.gathers();
    long now = gathers ? gathering.clock().getAsLong() : 0;
    synchronized (this) {
      held.remove(tag);
      open.add(new Pending(tag, then, now));
      if (writing) {
        return;
      }
      writing = true;
    }
    while (true) {
      if (gathers) {
        long until = lastWrite + gathering.window().toNanos();
        if (until - gathering.clock().getAsLong() > 0 && !runReady()) {
          gathering.pause().until(until, this::runReady);
        }
      }
      Cut cut;
      synchronized (this) {
        if (open.isEmpty()) {
          writing = false;
          return;
        }
        cut = cut(gathers ? gathering.clock().getAsLong() : 0);
      }
      if (cut.batch().isEmpty()) {
        // Every ack waiting is above a delivery still held, and young: it waits for that delivery's
        // ack to cover it, or for its window to pass.
        gathering.pause().until(cut.retryAt(), this::writable);
        continue;
      }
      if (gathers) {
        lastWrite = gathering.clock().getAsLong();
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

  /** Whether a cut now would write something. */
  private synchronized boolean writable() {
    long firstHeld = held.isEmpty() ? Long.MAX_VALUE : held.first();
    long now = gathering.clock().getAsLong();
    long window = gathering.window().toNanos();
    for (Pending p : open) {
      if (p.tag() < firstHeld || now - p.since() >= window) {
        return true;
      }
    }
    return open.isEmpty();
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

  /** Takes what the next write carries out of {@link #open}. Under the lock. */
  private Cut cut(long now) {
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
      } else if (!gathers || now - p.since() >= window) {
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
    return new Cut(batch, out, retryAt);
  }
}
