package dev.conveyor.worker.execution;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The acknowledgements of one consumer channel's deliveries, written in runs: while one ack is
 * being written, the acks that come meanwhile wait and go out together in the next write (a group
 * commit), as one {@code basic.ack} with {@code multiple=true} up to the first delivery still held,
 * and one each for those above it. An idle worker acks each delivery at once; a busy one sends
 * fewer frames and the broker settles fewer times.
 *
 * <p>{@code multiple=true} acks every unacknowledged delivery of the channel up to a tag, so the
 * window must see every delivery of its channel ({@link #delivered}) before anything is acked, and
 * hear of those settled otherwise ({@link #settledOtherwise}, after the nack is written).
 */
public final class AckWindow {

  /** Writes one {@code basic.ack} on the channel. */
  @FunctionalInterface
  public interface Writer {
    void ack(long deliveryTag, boolean multiple) throws IOException;
  }

  /** Acks waiting to be written together, and how their write went. */
  private static final class Batch {
    final List<Long> tags = new ArrayList<>();
    boolean written;
    IOException failure;
    RuntimeException runtimeFailure;
  }

  private final Writer writer;

  /** Delivered and not yet settled (nor being acked). */
  private final TreeSet<Long> held = new TreeSet<>();

  private Batch open = new Batch();
  private boolean writing;

  public AckWindow(Writer writer) {
    this.writer = writer;
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
    Batch mine;
    List<long[]> frames;
    synchronized (this) {
      mine = open;
      mine.tags.add(tag);
      boolean interrupted = false;
      while (writing && !mine.written) {
        try {
          wait();
        } catch (InterruptedException e) {
          // A settlement must finish: the interrupt is kept for the caller.
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      if (mine.written) {
        rethrow(mine);
        return;
      }
      writing = true;
      open = new Batch();
      frames = frames(mine.tags);
    }
    try {
      for (long[] f : frames) {
        writer.ack(f[0], f[1] == 1);
      }
    } catch (IOException e) {
      mine.failure = e;
    } catch (RuntimeException e) {
      mine.runtimeFailure = e;
    } finally {
      synchronized (this) {
        mine.written = true;
        writing = false;
        notifyAll();
      }
    }
    rethrow(mine);
  }

  /**
   * The frames that ack {@code tags}: one with {@code multiple=true} for those below the first
   * delivery still held (everything under it is settled), one each for the rest. Under the lock.
   *
   * @return {tag, 1 if multiple else 0} per frame
   */
  private List<long[]> frames(List<Long> tags) {
    tags.forEach(held::remove);
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

  private static void rethrow(Batch b) throws IOException {
    if (b.failure != null) {
      throw b.failure;
    }
    if (b.runtimeFailure != null) {
      throw b.runtimeFailure;
    }
  }
}
