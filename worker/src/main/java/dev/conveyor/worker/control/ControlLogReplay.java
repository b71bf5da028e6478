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
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the control log (a stream bound to {@code ns.control}) from 25 hours back, so that a worker
 * started after a stop for a queued task still cancels it when it arrives.
 *
 * <p>To know it has read everything before taking tasks, the worker appends a marker of its own to
 * the stream and waits until it reads the marker back.
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
   *     connected to (see {@link #follow})
   */
  boolean startAndCatchUp(Duration timeout, Duration replicaWait)
      throws IOException, InterruptedException {
    String marker = UUID.randomUUID().toString();
    CountDownLatch caughtUp = new CountDownLatch(1);
    Optional<String> followed = follow(marker, caughtUp, replicaWait);
    if (followed.isEmpty()) {
      return false;
    }
    String stream = followed.get();
    AMQP.BasicProperties markerProps =
        new AMQP.BasicProperties.Builder().headers(Map.of(Headers.MARKER, marker)).build();
    long deadline = System.nanoTime() + timeout.toNanos();
    // Confirmed, so that the catch-up never waits out its timeout for a marker the broker did not
    // take: a publish is known to have arrived only once confirmed.
    try (Channel pub = connection.createChannel()) {
      pub.confirmSelect();
      pub.basicPublish("", stream, markerProps, new byte[0]);
      if (!pub.waitForConfirms(timeout.toMillis())) {
        log.warn("the broker refused the control log's marker");
      }
    } catch (java.util.concurrent.TimeoutException e) {
      log.warn("the control log's marker was not confirmed within {}", timeout);
    }
    boolean done = caughtUp.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    if (!done) {
      log.warn("control log not fully replayed within {}; continuing", timeout);
    }
    return done;
  }

  /**
   * Declares the log and consumes it from 25 hours back. On a cluster, a node can consume a stream
   * only once it holds a replica of it, and a stream just declared (by this worker or another
   * program) starts its replicas a moment later: the broker then refuses the consumer with
   * PRECONDITION_FAILED "does not have a replica on the local node". That is retried, with a line
   * in the log, on a fresh channel with growing pauses (0.1 s doubling up to 2 s) for up to {@code
   * replicaWait}; after that the worker goes on without the log (stop commands issued before it
   * started do not reach its tasks; live ones still do) rather than die.
   *
   * @return the stream's name, or empty if no replica appeared within {@code replicaWait}
   */
  private Optional<String> follow(String marker, CountDownLatch caughtUp, Duration replicaWait)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + replicaWait.toNanos();
    long pauseMillis = 100;
    for (int attempt = 1; ; attempt++) {
      Channel ch = connection.createChannel();
      channel = ch;
      String stream = topology.declareControlLog(ch);
      try {
        ch.basicQos(500);
        ch.basicConsume(
            stream,
            false,
            Map.of("x-stream-offset", Date.from(Instant.now().minus(Revocations.TTL))),
            new DefaultConsumer(ch) {
              @Override
              public void handleDelivery(
                  String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body)
                  throws IOException {
                Map<String, Object> headers = props.getHeaders();
                Object seen = headers == null ? null : headers.get(Headers.MARKER);
                if (seen != null) {
                  if (marker.equals(seen.toString())) {
                    caughtUp.countDown();
                  }
                } else {
                  remember(body, headers);
                }
                ch.basicAck(envelope.getDeliveryTag(), false);
              }
            });
        if (attempt > 1) {
          log.info("control log {}: following it (attempt {})", stream, attempt);
        }
        return Optional.of(stream);
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

  void remember(byte[] body, Map<String, Object> headers) {
    ControlMessage m;
    try {
      m = Wire.decodeControl(body);
    } catch (MalformedMessageException e) {
      log.warn("control log: skipping a malformed entry: {}", e.getMessage());
      onRefused.accept("malformed");
      return;
    }
    if ((m.command() == Command.STOP || m.command() == Command.KILL)
        && !m.requeue()
        && m.target() instanceof Target.Tasks tasks) {
      Optional<String> refusal = verifier.refusal(body, headers, m, false);
      if (refusal.isPresent()) {
        log.warn(
            "control log: not honouring {} {} from {}: {}",
            m.command().wire(),
            m.id(),
            m.issuedBy(),
            refusal.get());
        onRefused.accept(refusal.get().startsWith("stale") ? "stale" : refusal.get());
        return;
      }
      revocations.revoke(tasks.ids(), m.issuedBy(), m.issuedAt());
    }
  }

  @Override
  public void close() {
    Channels.closeQuietly(channel);
  }
}
