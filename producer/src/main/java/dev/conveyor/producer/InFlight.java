package dev.conveyor.producer;

import dev.conveyor.protocol.wire.TaskMessage;
import java.util.function.BiConsumer;

/**
 * The published tasks still awaiting their hand-on, in publish order, with their publish sequence
 * numbers (increasing) and their outcomes ({@code null} until settled). A ring of arrays: adding,
 * settling a run of confirms and handing on the settled head cost no allocation and no search,
 * which matters at tens of thousands of publishes a second in a process whose code is still cold.
 *
 * <p>Not thread-safe: {@link TaskPublisher} guards it with its lock.
 */
final class InFlight {

  /** The outcome of a confirmed task. */
  static final String ACKED = "ack";

  private long[] seqs;
  private TaskMessage[] tasks;
  private String[] outcomes;
  private int head;
  private int size;

  /** Entries {@code [0, settledPrefix)} from the head are all settled. */
  private int settledPrefix;

  private int unsettled;

  InFlight(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1");
    }
    seqs = new long[capacity];
    tasks = new TaskMessage[capacity];
    outcomes = new String[capacity];
  }

  int size() {
    return size;
  }

  /** How many are not settled yet. */
  int unsettled() {
    return unsettled;
  }

  boolean headSettled() {
    return settledPrefix > 0;
  }

  /** Appends a task published with {@code seq}, which is above every seq added before. */
  void add(long seq, TaskMessage task) {
    if (size == seqs.length) {
      grow();
    }
    int i = index(size);
    seqs[i] = seq;
    tasks[i] = task;
    outcomes[i] = null;
    size++;
    unsettled++;
  }

  /**
   * Settles the task published with {@code seq}, or with {@code multiple} every task up to it, that
   * is not settled yet. The first outcome of a task is kept.
   */
  void settle(long seq, boolean multiple, String outcome) {
    if (multiple) {
      for (int k = settledPrefix; k < size && seqs[index(k)] <= seq; k++) {
        settleAt(k, outcome);
      }
    } else {
      int k = find(seq);
      if (k >= 0) {
        settleAt(k, outcome);
      }
    }
    while (settledPrefix < size && outcomes[index(settledPrefix)] != null) {
      settledPrefix++;
    }
  }

  /** Settles every task not settled yet with {@code reason}. */
  void settleAll(String reason) {
    for (int k = settledPrefix; k < size; k++) {
      settleAt(k, reason);
    }
    settledPrefix = size;
  }

  /**
   * Removes the settled tasks at the head, in publish order, handing each to {@code sink} with its
   * outcome ({@link #ACKED} or why it failed).
   */
  void drainSettled(BiConsumer<TaskMessage, String> sink) {
    while (settledPrefix > 0) {
      int i = head;
      TaskMessage task = tasks[i];
      String outcome = outcomes[i];
      tasks[i] = null;
      outcomes[i] = null;
      head = (head + 1) % seqs.length;
      size--;
      settledPrefix--;
      sink.accept(task, outcome);
    }
  }

  /** Forgets everything. */
  void clear() {
    for (int k = 0; k < size; k++) {
      tasks[index(k)] = null;
      outcomes[index(k)] = null;
    }
    head = 0;
    size = 0;
    settledPrefix = 0;
    unsettled = 0;
  }

  private void settleAt(int k, String outcome) {
    int i = index(k);
    if (outcomes[i] == null) {
      outcomes[i] = outcome;
      unsettled--;
    }
  }

  /** The position from the head of the task published with {@code seq}, or -1. */
  private int find(long seq) {
    int lo = settledPrefix;
    int hi = size - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      long s = seqs[index(mid)];
      if (s < seq) {
        lo = mid + 1;
      } else if (s > seq) {
        hi = mid - 1;
      } else {
        return mid;
      }
    }
    return -1;
  }

  private int index(int k) {
    int i = head + k;
    return i < seqs.length ? i : i - seqs.length;
  }

  private void grow() {
    int capacity = seqs.length * 2;
    long[] s = new long[capacity];
    TaskMessage[] t = new TaskMessage[capacity];
    String[] o = new String[capacity];
    for (int k = 0; k < size; k++) {
      int i = index(k);
      s[k] = seqs[i];
      t[k] = tasks[i];
      o[k] = outcomes[i];
    }
    seqs = s;
    tasks = t;
    outcomes = o;
    head = 0;
  }
}
