package dev.conveyor.worker.control;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
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
    channel = connection.createChannel();
    String stream = topology.declareControlLog(channel);
    channel.basicQos(500);
    String marker = UUID.randomUUID().toString();
    CountDownLatch caughtUp = new CountDownLatch(1);
    Channel ch = channel;
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
