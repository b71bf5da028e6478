package dev.conveyor.testkit;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
   * The commands ({@code stop}, {@code status}, …) the control log holds, in order, workers'
   * markers and checkpoints left out: read from the log's start up to a marker of this call's own.
   */
  public static List<String> of(TestBroker broker) throws IOException, InterruptedException {
    String marker = UUID.randomUUID().toString();
    List<String> commands = new CopyOnWriteArrayList<>();
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
              Map<String, Object> headers = props.getHeaders();
              Object seen = headers == null ? null : headers.get(Headers.MARKER);
              if (seen == null) {
                commands.add(
                    Wire.readDocument(new String(body, StandardCharsets.UTF_8))
                        .path("command")
                        .asText());
              } else if (marker.equals(seen.toString())) {
                read.countDown();
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
      return List.copyOf(commands);
    } finally {
      try {
        ch.close();
      } catch (TimeoutException | IOException | RuntimeException e) {
        // already closed
      }
    }
  }
}
