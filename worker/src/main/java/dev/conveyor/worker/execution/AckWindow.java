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
 * gather on a busy channel: while it holds more deliveries than the worker runs at once (so that
 * delaying an ack idles no thread) and its previous write was less than {@link #GATHER_WINDOW} ago,
 * the writing thread waits for the rest of that time, or until half the slack is waiting to be
 * acked, and then acks the run in one frame. On a quorum queue every ack frame is a command the
 * queue must log; written one per task they were most of the broker's work (docs/benchmarks.md).
 * Without slack (the default prefetch) every ack frees a slot the worker needs, and it is written
 * at once.
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

  private record Pending(long tag, Written then) {}

  /** The most a busy window with slack lets acks gather after its previous write. */
  public static final Duration GATHER_WINDOW = Duration.ofMillis(1);

  /**
   * How acks gather: while more than {@code concurrency} deliveries are held, at most {@code
   * window} after the previous write, until {@code (prefetch - concurrency) / 2} acks wait. {@code
   * clock} reads nanoseconds; {@code pause} waits until a clock time or until its condition holds.
   * Injected so tests hold a gathering open.
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

  /** Delivered and not yet settled (nor being acked). */
  private final TreeSet<Long> held = new TreeSet<>();

  /** Acks waiting for the next write. */
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
    synchronized (this) {
      open.add(new Pending(tag, then));
      if (writing) {
        return;
      }
      writing = true;
    }
    while (true) {
      List<Pending> batch;
      List<long[]> frames;
      if (gathering.gathers()) {
        long until = lastWrite + gathering.window().toNanos();
        if (until - gathering.clock().getAsLong() > 0 && !runReady()) {
          gathering.pause().until(until, this::runReady);
        }
      }
      synchronized (this) {
        if (open.isEmpty()) {
          writing = false;
          return;
        }
        batch = open;
        open = new ArrayList<>();
        frames = frames(batch);
      }
      if (gathering.gathers()) {
        lastWrite = gathering.clock().getAsLong();
      }
      Exception failure = null;
      try {
        for (long[] f : frames) {
          writer.ack(f[0], f[1] == 1);
        }
      } catch (IOException | RuntimeException e) {
        failure = e;
      }
      for (Pending p : batch) {
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
   * Whether the acks waiting should go now: none wait (nothing to gather for), enough of them, or
   * too few deliveries held to keep every thread busy while they wait.
   */
  private synchronized boolean runReady() {
    return open.isEmpty()
        || open.size() >= runLength
        || held.size() - open.size() <= gathering.concurrency();
  }

  /**
   * The frames that ack {@code tags}: one with {@code multiple=true} for those below the first
   * delivery still held (everything under it is settled), one each for the rest. Under the lock.
   *
   * @return {tag, 1 if multiple else 0} per frame
   */
  private List<long[]> frames(List<Pending> acks) {
    List<Long> tags = new ArrayList<>(acks.size());
    for (Pending p : acks) {
      tags.add(p.tag());
      held.remove(p.tag());
    }
    long firstHeld = held.isEmpty() ? Long.MAX_VALUE : held.first();
    long below = -1;
    int belowCount = 0;
    List<long[]> out = new ArrayList<>();
    for (long t : tags) {
      if (t < firstHeld) {
        below = Math.max(below, t);
        belowCount++;
      } else {
        out.add(new long[] {t, 0});
      }
    }
    if (belowCount == 1) {
      out.addFirst(new long[] {below, 0});
    } else if (belowCount > 1) {
      out.addFirst(new long[] {below, 1});
    }
    return out;
  }
}
