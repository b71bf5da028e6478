package dev.conveyor.worker.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.AlreadyClosedException;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the control log (a stream bound to {@code ns.control}) so that a worker started after a
 * stop for a queued task still cancels it when it arrives.
 *
 * <p>To know it has read everything before taking tasks, the worker appends a marker of its own to
 * the stream and waits until it reads the marker back: over AMQP 0-9-1 a stream's end cannot be
 * learned otherwise. The markers stay as long as the commands (25 hours), so reading from 25 hours
 * back would read every earlier start's marker. Once caught up, a worker therefore appends a {@link
 * Checkpoint}: a marker whose body names its own marker's offset and carries the stops still
 * honoured that came before it. A starting worker looks at the log's last entry first and, if it is
 * a checkpoint (signed, with a control key), honours the stops it carries and reads from the offset
 * it names; if a command came after the last checkpoint, it looks a few entries further back for
 * one; and only when there is none, from 25 hours back. Any checkpoint stays true: whatever is
 * appended after it comes at higher offsets.
 *
 * <p>A worker follows the log for as long as it runs. Once it has read {@link Periodic#every}
 * entries since the last checkpoint it saw (commands between worker starts, or another version's
 * markers), it appends one of its own after a random pause ({@link Periodic#jitter}), unless
 * another worker's comes first: from the entry after the last it read, carrying the stops still
 * honoured before it. So a start reads at most about that many entries past a checkpoint, which it
 * finds within its longer look back, however many commands came since the last start.
 *
 * <p>Each stop or kill for tasks that it reads after its own marker goes to {@link Heard} too: the
 * worker acts on it unless its queue of commands brought it first. The log's consumer reads on
 * after a reconnection from the entry after the last one read, so such a command still reaches the
 * worker when the broker handed its queue's copy to a connection the worker lost.
 */
public final class ControlLogReplay implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ControlLogReplay.class);

  /** How long a worker waits for a replica of the control log on its broker node. */
  static final Duration REPLICA_WAIT = Duration.ofSeconds(30);

  private final Connection connection;
  private final Topology topology;
  private final Revocations revocations;
  private final CommandVerifier verifier;
  private final Consumer<String> onRefused;
  private final Periodic periodic;
  private final Heard heard;
  private Channel channel;

  /**
   * How a running worker keeps a checkpoint near the log's end: once it has read {@code every}
   * entries since the last checkpoint, it appends one after a random pause of up to {@code jitter}
   * (so that of many workers reading the same entries, one writes and the others see it), on {@code
   * io} (it publishes: not a thread that must be punctual).
   */
  public record Periodic(int every, Duration jitter, ScheduledExecutorService io) {

    /** Below the longer look back of a start ({@link #LOOKBACK}), which must reach it. */
    public static final int EVERY = 128;

    public static final Duration JITTER = Duration.ofSeconds(2);

    public Periodic {
      if (every < 1 || every >= LOOKBACK[LOOKBACK.length - 1]) {
        throw new IllegalArgumentException(
            "a checkpoint every 1.." + (LOOKBACK[LOOKBACK.length - 1] - 1) + " entries: " + every);
      }
    }

    /** A worker's: every {@link #EVERY} entries, after up to {@link #JITTER}. */
    public static Periodic of(ScheduledExecutorService io) {
      return new Periodic(EVERY, JITTER, io);
    }
  }

  /** A stop still honoured, and until when a worker honours it (by this worker's clock). */
  private record Held(Checkpoint.Stop stop, Instant until) {}

  private static final String STREAM_OFFSET = "x-stream-offset";

  /** The highest offset read by {@link #follow}; guarded by {@code this}. */
  private long lastRead = -1;

  /** Entries read since the last checkpoint seen; guarded by {@code this}. */
  private int sinceCheckpoint;

  /** A periodic checkpoint is scheduled; guarded by {@code this}. */
  private boolean checkpointScheduled;

  /** Entries of the log this replay has been handed, markers included. */
  private final AtomicInteger entriesRead = new AtomicInteger();

  /**
   * The stops and kills for tasks that a worker may still honour, read from the log or handed by a
   * checkpoint, by their offsets: this replay's checkpoints carry them. Those no longer honoured
   * are pruned as new ones come, like {@link Revocations}' entries.
   */
  private final NavigableMap<Long, Held> honoured = new ConcurrentSkipListMap<>();

  /** The offset of this replay's own marker, once read back. */
  private volatile long markerOffset = -1;

  /** How long a starting worker waits for the log's last entry, its own marker at the latest. */
  private static final Duration LAST_ENTRY_WAIT = Duration.ofSeconds(2);

  /**
   * A stop stays in a checkpoint's reach this much longer than a worker honours it: another
   * worker's clock may run behind this one's.
   */
  private static final Duration SKEW_ALLOWANCE = Duration.ofHours(1);

  /**
   * Told of each stop or kill for tasks that the log brings once this replay has caught up (what
   * was published after the worker started): the worker acts on it unless its queue of commands
   * brought it first ({@link CommandHandler#handleLogged}).
   */
  @FunctionalInterface
  public interface Heard {
    void heard(ControlMessage message, byte[] body, Map<String, Object> headers);
  }

  /**
   * A replay that only remembers (no checkpoints after its start, nothing told of what it reads).
   *
   * @param onRefused told of every entry not honoured, by reason (malformed, unsigned, …): metrics
   */
  public ControlLogReplay(
      Connection connection,
      Topology topology,
      Revocations revocations,
      CommandVerifier verifier,
      Consumer<String> onRefused) {
    this(connection, topology, revocations, verifier, onRefused, null, (m, body, headers) -> {});
  }

  /**
   * @param periodic how it keeps a checkpoint near the log's end while it follows it; null: it
   *     appends only the one after its start
   * @param heard told of each stop or kill for tasks read once caught up, on the log's consumer
   *     thread
   */
  public ControlLogReplay(
      Connection connection,
      Topology topology,
      Revocations revocations,
      CommandVerifier verifier,
      Consumer<String> onRefused,
      Periodic periodic,
      Heard heard) {
    this.connection = connection;
    this.topology = topology;
    this.revocations = revocations;
    this.verifier = verifier;
    this.onRefused = onRefused;
    this.periodic = periodic;
    this.heard = heard;
  }

  /**
   * Starts following the log and returns once everything up to now has been read, or the timeout
   * passed (then it goes on catching up in the background).
   *
   * @return true if caught up
   */
  public boolean startAndCatchUp(Duration timeout) throws IOException, InterruptedException {
    return startAndCatchUp(timeout, REPLICA_WAIT);
  }

  /**
   * @param replicaWait how long to wait for a replica of the log on the broker node we are
   *     connected to (see {@link #awaitReplica})
   */
  boolean startAndCatchUp(Duration timeout, Duration replicaWait)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    Optional<LastEntry> last = awaitReplica(replicaWait);
    if (last.isEmpty()) {
      return false;
    }
    String stream = last.get().stream();
    String marker = UUID.randomUUID().toString();
    CountDownLatch caughtUp = new CountDownLatch(1);
    boolean done = false;
    try (Channel pub = connection.createChannel()) {
      // Confirmed, so that the catch-up never waits out its timeout for a marker the broker did
      // not take: a publish is known to have arrived only once confirmed.
      pub.confirmSelect();
      pub.basicPublish("", stream, markerProps(marker, null), new byte[0]);
      awaitConfirm(pub, timeout);
      // The last entry was appended before this marker, or is this marker.
      Object from = last.get().replayFrom(LAST_ENTRY_WAIT);
      follow(stream, from, marker, caughtUp);
      done = caughtUp.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (done) {
        appendCheckpoint(pub, stream);
        log.debug(
            "control log {} read from {}: {} entries; stops still honoured: {}",
            stream,
            from instanceof Long ? "offset " + from : "25 hours back",
            entriesRead.get(),
            honoured.size());
      }
    } catch (TimeoutException e) {
      log.debug("closing the control log's marker channel: {}", e.toString());
    } finally {
      last.get().close();
    }
    if (!done) {
      log.warn("control log not fully replayed within {}; continuing", timeout);
    }
    return done;
  }

  private static void awaitConfirm(Channel pub, Duration timeout) throws InterruptedException {
    try {
      if (!pub.waitForConfirms(timeout.toMillis())) {
        log.warn("the broker refused the control log's marker");
      }
    } catch (TimeoutException e) {
      log.warn("the control log's marker was not confirmed within {}", timeout);
    }
  }

  /**
   * Declares the log and starts reading its last entry. On a cluster, a node can consume a stream
   * only once it holds a replica of it, and a stream just declared (by this worker or another
   * program) starts its replicas a moment later: the broker then refuses the consumer with
   * PRECONDITION_FAILED "does not have a replica on the local node". That is retried, with a line
   * in the log, on a fresh channel with growing pauses (0.1 s doubling up to 2 s) for up to {@code
   * replicaWait}; after that the worker goes on without the log (stop commands issued before it
   * started do not reach its tasks; live ones still do) rather than die.
   *
   * @return the log's last entry to come, or empty if no replica appeared within {@code
   *     replicaWait}
   */
  private Optional<LastEntry> awaitReplica(Duration replicaWait)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + replicaWait.toNanos();
    long pauseMillis = 100;
    for (int attempt = 1; ; attempt++) {
      Channel ch = connection.createChannel();
      String stream = topology.declareControlLog(ch);
      try {
        LastEntry last = new LastEntry(ch, stream);
        if (attempt > 1) {
          log.info("control log {}: following it (attempt {})", stream, attempt);
        }
        return Optional.of(last);
      } catch (IOException e) {
        if (!noLocalReplica(e)) {
          throw e;
        }
        Channels.closeQuietly(ch);
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          log.warn(
              "control log {}: the broker node has no replica of it after {} attempts in {};"
                  + " going on without it: stop commands issued before this worker started do"
                  + " not reach its tasks (live commands do)",
              stream,
              attempt,
              replicaWait);
          return Optional.empty();
        }
        long pause = Math.min(pauseMillis, TimeUnit.NANOSECONDS.toMillis(left) + 1);
        log.info(
            "control log {}: the broker node has no replica of it yet (attempt {}); retrying in"
                + " {} ms",
            stream,
            attempt,
            pause);
        Thread.sleep(pause);
        pauseMillis = Math.min(pauseMillis * 2, 2000);
      }
    }
  }

  /**
   * The log's last entry, read by a consumer at offset {@code last} (which starts at the log's last
   * chunk): where this replay may start.
   */
  private final class LastEntry {
    private final Channel ch;
    private final String stream;
    private final CompletableFuture<Seen> first = new CompletableFuture<>();

    /** An entry of the log: its offset, and the checkpoint it is, if one. */
    private record Seen(long offset, Optional<Checkpoint> checkpoint) {}

    LastEntry(Channel ch, String stream) throws IOException {
      this.ch = ch;
      this.stream = stream;
      ch.basicQos(1);
      ch.basicConsume(
          stream,
          false,
          Map.of(STREAM_OFFSET, "last"),
          new DefaultConsumer(ch) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
              Map<String, Object> headers = props.getHeaders();
              first.complete(new Seen(offset(headers), checkpointIn(stream, headers, body)));
            }
          });
    }

    String stream() {
      return stream;
    }

    void close() {
      Channels.closeQuietly(ch);
    }

    /**
     * Where the replay starts, as {@code x-stream-offset} takes it: the offset (a {@code Long}) the
     * newest checkpoint names, if the last entry is one or one is among the entries just before it
     * ({@link #LOOKBACK}), else the time (a {@code Date}) 25 hours back. The stops that checkpoint
     * carries are honoured here. Stops reading the last entry.
     *
     * @param wait how long the last entry may take to come: once this replay's marker is confirmed,
     *     there is one
     */
    Object replayFrom(Duration wait) throws IOException, InterruptedException {
      Optional<Checkpoint> found = Optional.empty();
      try {
        Seen last = first.get(wait.toMillis(), TimeUnit.MILLISECONDS);
        found = last.checkpoint();
        for (int window : LOOKBACK) {
          if (found.isPresent() || last.offset() <= 0) {
            break;
          }
          found = newestCheckpointBefore(stream, last.offset(), window, wait);
        }
      } catch (ExecutionException | TimeoutException e) {
        // none came: from 25 hours back
      } finally {
        close();
      }
      if (found.isPresent()) {
        for (Checkpoint.Stop stop : found.get().stops()) {
          Map<String, Object> headers = new HashMap<>();
          if (stop.signature() != null) {
            headers.put(Headers.SIGNATURE, stop.signature());
          }
          Instant until = remember(stop.body(), headers);
          if (until != null) {
            hold(stop, until);
          }
        }
        return found.get().from();
      }
      return Date.from(Instant.now().minus(Revocations.TTL));
    }
  }

  /**
   * How far back from the log's last entry a start looks for a checkpoint when that entry is not
   * one (a command came after the last start): a short look first, then a longer one.
   */
  private static final int[] LOOKBACK = {16, 256};

  /**
   * The newest checkpoint among the {@code window} entries before the one at {@code last}, read by
   * a consumer of its own; empty if there is none, or if they do not all come within {@code wait}.
   */
  Optional<Checkpoint> newestCheckpointBefore(String stream, long last, int window, Duration wait)
      throws IOException, InterruptedException {
    Channel ch = connection.createChannel();
    try {
      CompletableFuture<Optional<Checkpoint>> newest = new CompletableFuture<>();
      // The broker delivers from the offset asked for on (not from the start of its chunk), so
      // window + 1 entries reach the last one without an ack.
      ch.basicQos(window + 1);
      ch.basicConsume(
          stream,
          false,
          Map.of(STREAM_OFFSET, Math.max(0, last - window)),
          new DefaultConsumer(ch) {
            private Optional<Checkpoint> seen = Optional.empty();

            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
              entriesRead.incrementAndGet();
              Map<String, Object> headers = props.getHeaders();
              long at = offset(headers);
              if (at >= last || at < 0) {
                newest.complete(seen);
                return;
              }
              Optional<Checkpoint> checkpoint = checkpointIn(stream, headers, body);
              if (checkpoint.isPresent()) {
                seen = checkpoint;
              }
            }
          });
      return newest.get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      log.warn(
          "control log {}: the {} entries before offset {} did not all come within {}; looking"
              + " further back",
          stream,
          window,
          last,
          wait);
      return Optional.empty();
    } catch (ExecutionException e) {
      return Optional.empty();
    } finally {
      Channels.closeQuietly(ch);
    }
  }

  /**
   * The checkpoint this entry is, if one: a marker whose body is a {@link Checkpoint} of this log,
   * signed when a control key is set.
   */
  Optional<Checkpoint> checkpointIn(String stream, Map<String, Object> headers, byte[] body) {
    if (headers == null || headers.get(Headers.MARKER) == null || body == null) {
      return Optional.empty();
    }
    return Checkpoint.parse(stream, body).filter(c -> verifier.authentic(body, headers));
  }

  private static AMQP.BasicProperties markerProps(String marker, String signature) {
    Map<String, Object> headers = new HashMap<>();
    headers.put(Headers.MARKER, marker);
    if (signature != null) {
      headers.put(Headers.SIGNATURE, signature);
    }
    return new AMQP.BasicProperties.Builder().headers(headers).build();
  }

  /**
   * Appends this replay's checkpoint: from its marker, carrying the stops still honoured that it
   * read or was handed before it (or from the oldest of them, if they are too many to carry). Not
   * confirmed: a lost checkpoint only makes the next start read further back.
   */
  private void appendCheckpoint(Channel pub, String stream) {
    if (markerOffset < 0) {
      return;
    }
    appendCheckpoint(pub, stream, markerOffset);
  }

  /**
   * Appends a checkpoint from {@code from}, carrying the stops still honoured before it (or from
   * the oldest of them, if they are too many to carry).
   */
  private void appendCheckpoint(Channel pub, String stream, long from) {
    List<Checkpoint.Stop> stops = new ArrayList<>();
    Instant now = Instant.now();
    for (Held h : honoured.headMap(from).values()) {
      if (h.until().isAfter(now)) {
        stops.add(h.stop());
      }
    }
    byte[] body = Checkpoint.after(from, stops, stream).body(stream);
    try {
      pub.basicPublish(
          "",
          stream,
          markerProps(UUID.randomUUID().toString(), verifier.signature(body).orElse(null)),
          body);
    } catch (IOException | RuntimeException e) {
      log.debug("control log checkpoint not appended: {}", e.toString());
    }
  }

  /**
   * Consumes the log from {@code from} (an offset, or a time) on, for as long as the worker runs.
   * The log is declared again on this channel, which lives as long as the worker: amqp-client's
   * recovery declares everything again on the channel that declared it last, and the channels that
   * found the log's last entry are closed by now (each reconnection would log an error for them).
   */
  private void follow(String stream, Object from, String marker, CountDownLatch caughtUp)
      throws IOException {
    Channel ch = connection.createChannel();
    channel = ch;
    topology.declareControlLog(ch);
    ch.basicQos(500);
    // amqp-client's recovery consumes again with this map, which it keeps: held at the entry after
    // the last one read, so that a reconnected worker reads on from there, not from its start.
    Map<String, Object> arguments = new ConcurrentHashMap<>(Map.of(STREAM_OFFSET, from));
    ch.basicConsume(
        stream,
        false,
        arguments,
        new DefaultConsumer(ch) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body)
              throws IOException {
            entriesRead.incrementAndGet();
            Map<String, Object> headers = props.getHeaders();
            Object seen = headers == null ? null : headers.get(Headers.MARKER);
            long at = offset(headers);
            boolean checkpoint = false;
            if (seen != null) {
              if (marker.equals(seen.toString())) {
                markerOffset = at;
                caughtUp.countDown();
              }
              checkpoint = checkpointIn(stream, headers, body).isPresent();
            } else {
              // Once its own marker is read, what comes was published after this worker started,
              // maybe to a connection it lost: told of, to be acted on.
              Instant until = remember(body, headers, markerOffset >= 0);
              if (until != null && at >= 0) {
                Object signature = headers.get(Headers.SIGNATURE);
                hold(
                    new Checkpoint.Stop(at, body, signature == null ? null : signature.toString()),
                    until);
              }
            }
            read(stream, at, checkpoint);
            if (at >= 0) {
              arguments.put(STREAM_OFFSET, at + 1);
            }
            try {
              ch.basicAck(envelope.getDeliveryTag(), false);
            } catch (AlreadyClosedException e) {
              // closed with the worker: a stream entry needs no settling
            }
          }
        });
  }

  /**
   * Counts an entry read by {@link #follow}, and schedules a checkpoint once {@link Periodic#every}
   * entries have come since the last one seen, if this replay has caught up.
   */
  private void read(String stream, long at, boolean checkpoint) {
    synchronized (this) {
      lastRead = Math.max(lastRead, at);
      sinceCheckpoint = checkpoint ? 0 : sinceCheckpoint + 1;
      if (periodic == null
          || markerOffset < 0
          || checkpointScheduled
          || sinceCheckpoint < periodic.every()) {
        return;
      }
      checkpointScheduled = true;
    }
    long pause =
        periodic.jitter().isZero()
            ? 0
            : ThreadLocalRandom.current().nextLong(periodic.jitter().toNanos());
    try {
      periodic.io().schedule(() -> periodicCheckpoint(stream), pause, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // closing
    }
  }

  /** Appends a checkpoint after the last entry read, unless one has come since it was scheduled. */
  private void periodicCheckpoint(String stream) {
    long from;
    synchronized (this) {
      checkpointScheduled = false;
      if (sinceCheckpoint < periodic.every() || lastRead < 0) {
        return; // another worker's came first
      }
      from = lastRead + 1;
      // What is read from here on counts towards the next one, before this one is read back.
      sinceCheckpoint = 0;
    }
    Channel pub = null;
    try {
      pub = connection.createChannel();
      appendCheckpoint(pub, stream, from);
      log.debug("control log {}: checkpoint from offset {} appended", stream, from);
    } catch (IOException | RuntimeException e) {
      log.debug("control log {}: periodic checkpoint not appended: {}", stream, e.toString());
    } finally {
      Channels.closeQuietly(pub);
    }
  }

  /** Keeps a stop for the checkpoints to carry, and lets go of those no longer honoured. */
  private void hold(Checkpoint.Stop stop, Instant until) {
    honoured.put(stop.offset(), new Held(stop, until));
    Instant now = Instant.now();
    // Oldest first, by offset: the stops a client dated far back are let go a little late.
    for (Map.Entry<Long, Held> e = honoured.firstEntry();
        e != null && !e.getValue().until().isAfter(now);
        e = honoured.firstEntry()) {
      honoured.remove(e.getKey());
    }
  }

  /** The entry's offset in the stream, which the broker adds to each delivery; -1 if missing. */
  private static long offset(Map<String, Object> headers) {
    return headers != null && headers.get(STREAM_OFFSET) instanceof Number n ? n.longValue() : -1;
  }

  /**
   * Whether the broker refused a stream consumer because the node it runs on holds no replica of
   * the stream (yet): a channel error 406 saying so.
   */
  static boolean noLocalReplica(IOException e) {
    return e.getCause() instanceof ShutdownSignalException s
        && !s.isHardError()
        && s.getReason() instanceof AMQP.Channel.Close close
        && close.getReplyCode() == AMQP.PRECONDITION_FAILED
        && close.getReplyText() != null
        && close.getReplyText().contains("replica on the local node");
  }

  /**
   * Honours the entry if it is a stop or kill for tasks.
   *
   * @return until when a worker may still honour it, by this clock: a stop or kill for tasks,
   *     issued within the last 25 hours and a clock's skew, whether or not this worker obeys it
   *     (its signature); null if no worker may
   */
  Instant remember(byte[] body, Map<String, Object> headers) {
    return remember(body, headers, false);
  }

  /**
   * @param live whether to tell {@link Heard} of a stop or kill honoured: it came after the start
   */
  private Instant remember(byte[] body, Map<String, Object> headers, boolean live) {
    ControlMessage m;
    try {
      m = Wire.decodeControl(body);
    } catch (MalformedMessageException e) {
      log.warn("control log: skipping a malformed entry: {}", e.getMessage());
      onRefused.accept("malformed");
      return null;
    }
    if (m.revokesTasks() && m.target() instanceof Target.Tasks tasks) {
      Instant now = Instant.now();
      Instant until =
          (m.issuedAt() == null || m.issuedAt().isAfter(now) ? now : m.issuedAt())
              .plus(Revocations.TTL)
              .plus(SKEW_ALLOWANCE);
      Instant current = until.isAfter(now) ? until : null;
      Optional<String> refusal = verifier.refusal(body, headers, m, false);
      if (refusal.isPresent()) {
        log.warn(
            "control log: not honouring {} {} from {}: {}",
            m.command().wire(),
            m.id(),
            m.issuedBy(),
            refusal.get());
        onRefused.accept(refusal.get().startsWith("stale") ? "stale" : refusal.get());
        return current;
      }
      revocations.revoke(tasks.ids(), m.issuedBy(), m.issuedAt());
      if (live) {
        heard.heard(m, body, headers);
      }
      return current;
    }
    return null;
  }

  /** The highest offset of the log this replay has read as it follows it; -1 before any. */
  synchronized long lastRead() {
    return lastRead;
  }

  /**
   * Entries of the log this replay has been handed, markers and checkpoints included, and those it
   * looked at for a checkpoint.
   */
  int entriesRead() {
    return entriesRead.get();
  }

  @Override
  public void close() {
    Channels.closeQuietly(channel);
  }
}
