package dev.conveyor.worker.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
 * back would read every earlier start's marker. Once caught up, a worker therefore appends a
 * checkpoint: a marker whose body names the offset from which the log holds every stop still
 * honoured (its oldest such stop, else its own marker). A starting worker looks at the log's last
 * entry first and, if it is a checkpoint (signed, with a control key), reads from there; otherwise
 * from 25 hours back. Any checkpoint stays true: whatever is appended after it comes at higher
 * offsets.
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
  private Channel channel;

  /** Entries of the log this replay has been handed, markers included. */
  private final AtomicInteger entriesRead = new AtomicInteger();

  /** The offset of the oldest stop or kill read that a worker may still honour. */
  private final AtomicLong oldestStop = new AtomicLong(Long.MAX_VALUE);

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
   * @param onRefused told of every entry not honoured, by reason (malformed, unsigned, …): metrics
   */
  public ControlLogReplay(
      Connection connection,
      Topology topology,
      Revocations revocations,
      CommandVerifier verifier,
      Consumer<String> onRefused) {
    this.connection = connection;
    this.topology = topology;
    this.revocations = revocations;
    this.verifier = verifier;
    this.onRefused = onRefused;
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
      follow(stream, last.get().replayFrom(LAST_ENTRY_WAIT), marker, caughtUp);
      done = caughtUp.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (done) {
        appendCheckpoint(pub, stream);
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
    private final CompletableFuture<Optional<Long>> checkpoint = new CompletableFuture<>();

    LastEntry(Channel ch, String stream) throws IOException {
      this.ch = ch;
      this.stream = stream;
      ch.basicQos(1);
      ch.basicConsume(
          stream,
          false,
          Map.of("x-stream-offset", "last"),
          new DefaultConsumer(ch) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
              checkpoint.complete(checkpointIn(stream, props.getHeaders(), body));
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
     * last entry names if it is a checkpoint, else the time (a {@code Date}) 25 hours back. Stops
     * reading the last entry.
     *
     * @param wait how long the last entry may take to come: once this replay's marker is confirmed,
     *     there is one
     */
    Object replayFrom(Duration wait) throws InterruptedException {
      Optional<Long> found = Optional.empty();
      try {
        found = checkpoint.get(wait.toMillis(), TimeUnit.MILLISECONDS);
      } catch (ExecutionException | TimeoutException e) {
        // none came: from 25 hours back
      } finally {
        close();
      }
      if (found.isPresent()) {
        return found.get();
      }
      return Date.from(Instant.now().minus(Revocations.TTL));
    }
  }

  /**
   * The offset a checkpoint names, if this entry is one: a marker whose body is {@link
   * #checkpointBody} for this log, signed when a control key is set.
   */
  Optional<Long> checkpointIn(String stream, Map<String, Object> headers, byte[] body) {
    if (headers == null || headers.get(Headers.MARKER) == null || body == null) {
      return Optional.empty();
    }
    String text = new String(body, StandardCharsets.US_ASCII);
    String prefix = checkpointPrefix(stream);
    if (!text.startsWith(prefix) || !verifier.authentic(body, headers)) {
      return Optional.empty();
    }
    try {
      long offset = Long.parseLong(text.substring(prefix.length()));
      return offset >= 0 ? Optional.of(offset) : Optional.empty();
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /**
   * A checkpoint's body. It names the log, so that one copied from another namespace's log is not
   * taken for this one's.
   */
  static byte[] checkpointBody(String stream, long offset) {
    return (checkpointPrefix(stream) + offset).getBytes(StandardCharsets.US_ASCII);
  }

  private static String checkpointPrefix(String stream) {
    return "replay " + stream + " from ";
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
   * Appends this replay's checkpoint: from its oldest stop still honoured, else from its marker.
   * Not confirmed: a lost checkpoint only makes the next start read from 25 hours back.
   */
  private void appendCheckpoint(Channel pub, String stream) {
    long from = Math.min(oldestStop.get(), markerOffset);
    if (from < 0) {
      return;
    }
    byte[] body = checkpointBody(stream, from);
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
   */
  private void follow(String stream, Object from, String marker, CountDownLatch caughtUp)
      throws IOException {
    Channel ch = connection.createChannel();
    channel = ch;
    ch.basicQos(500);
    ch.basicConsume(
        stream,
        false,
        Map.of("x-stream-offset", from),
        new DefaultConsumer(ch) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body)
              throws IOException {
            entriesRead.incrementAndGet();
            Map<String, Object> headers = props.getHeaders();
            Object seen = headers == null ? null : headers.get(Headers.MARKER);
            if (seen != null) {
              if (marker.equals(seen.toString())) {
                markerOffset = offset(headers);
                caughtUp.countDown();
              }
            } else if (remember(body, headers)) {
              long at = offset(headers);
              oldestStop.accumulateAndGet(Math.max(0, at), Math::min);
            }
            ch.basicAck(envelope.getDeliveryTag(), false);
          }
        });
  }

  /** The entry's offset in the stream, which the broker adds to each delivery; -1 if missing. */
  private static long offset(Map<String, Object> headers) {
    return headers != null && headers.get("x-stream-offset") instanceof Number n
        ? n.longValue()
        : -1;
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
   * @return whether a worker may still honour it: a stop or kill for tasks, issued within the last
   *     25 hours and a clock's skew, whether or not this worker obeys it (its signature)
   */
  boolean remember(byte[] body, Map<String, Object> headers) {
    ControlMessage m;
    try {
      m = Wire.decodeControl(body);
    } catch (MalformedMessageException e) {
      log.warn("control log: skipping a malformed entry: {}", e.getMessage());
      onRefused.accept("malformed");
      return false;
    }
    if ((m.command() == Command.STOP || m.command() == Command.KILL)
        && !m.requeue()
        && m.target() instanceof Target.Tasks tasks) {
      boolean current =
          m.issuedAt() == null
              || m.issuedAt().isAfter(Instant.now().minus(Revocations.TTL).minus(SKEW_ALLOWANCE));
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
      return current;
    }
    return false;
  }

  /** Entries of the log this replay has been handed, markers and checkpoints included. */
  int entriesRead() {
    return entriesRead.get();
  }

  @Override
  public void close() {
    Channels.closeQuietly(channel);
  }
}
