package dev.conveyor.testkit;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** What a namespace's control log keeps, read as a starting worker reads it. */
public final class ControlLogCommands {
  private ControlLogCommands() {}

  /**
   * An entry of the log: its offset, its headers (empty if it has none) and its body.
   *
   * @param marker the {@link Headers#MARKER} header's value: a worker's marker or checkpoint; null
   *     for a command
   */
  public record Entry(long offset, Map<String, Object> headers, byte[] body, String marker) {}

  /**
   * The commands ({@code stop}, {@code status}, …) the control log holds, in order, workers'
   * markers and checkpoints left out: read from the log's start up to a marker of this call's own.
   */
  public static List<String> of(TestBroker broker) throws IOException, InterruptedException {
    List<String> commands = new ArrayList<>();
    for (Entry e : entries(broker)) {
      if (e.marker() == null) {
        commands.add(
            Wire.readDocument(new String(e.body(), StandardCharsets.UTF_8))
                .path("command")
                .asText());
      }
    }
    return commands;
  }

  /**
   * Every entry the control log holds, in order: read from the log's start up to a marker of this
   * call's own, which is left out.
   */
  public static List<Entry> entries(TestBroker broker) throws IOException, InterruptedException {
    String marker = UUID.randomUUID().toString();
    List<Entry> entries = new CopyOnWriteArrayList<>();
    CountDownLatch read = new CountDownLatch(1);
    Channel ch = broker.connection().createChannel();
    try {
      String log = broker.topology().declareControlLog(ch);
      ch.basicQos(100);
      ch.basicConsume(
          log,
          false,
          Map.of("x-stream-offset", "first"),
          new DefaultConsumer(ch) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body)
                throws IOException {
              Map<String, Object> headers =
                  props.getHeaders() == null ? Map.of() : props.getHeaders();
              Object seen = headers.get(Headers.MARKER);
              if (seen != null && marker.equals(seen.toString())) {
                read.countDown();
              } else if (read.getCount() > 0) {
                entries.add(
                    new Entry(
                        headers.get("x-stream-offset") instanceof Number n ? n.longValue() : -1,
                        headers,
                        body,
                        seen == null ? null : seen.toString()));
              }
              ch.basicAck(envelope.getDeliveryTag(), false);
            }
          });
      broker.withConfirms(
          pub -> {
            pub.basicPublish(
                "",
                log,
                new AMQP.BasicProperties.Builder().headers(Map.of(Headers.MARKER, marker)).build(),
                new byte[0]);
            return null;
          });
      if (!read.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the control log was not read up to its end in 30 s");
      }
      return List.copyOf(entries);
    } finally {
      try {
        ch.close();
      } catch (TimeoutException | IOException | RuntimeException e) {
        // already closed
      }
    }
  }
}
