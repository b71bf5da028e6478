package dev.conveyor.worker;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.TestBroker;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;

/**
 * Publishes like any AMQP 0-9-1 client following docs/protocol.md: raw bodies and properties, no
 * Conveyor library in between.
 */
final class Broker {
  private Broker() {}

  /** Publishes a task body to {@code ns.tasks}; returns the message id used (may be null). */
  static String task(TestBroker broker, String queue, String json, String messageId) {
    return raw(broker, queue, json.getBytes(StandardCharsets.UTF_8), messageId);
  }

  static String task(TestBroker broker, String json) {
    String id = Ids.newId();
    return task(broker, "default", json, id);
  }

  static String raw(TestBroker broker, String queue, byte[] body, String messageId) {
    broker.withConfirms(
        ch -> {
          broker.topology().declareCore(ch);
          broker.topology().declareTaskQueue(ch, queue);
          ch.basicPublish(
              broker.names().tasksExchange(),
              queue,
              new AMQP.BasicProperties.Builder()
                  .messageId(messageId)
                  .contentType("application/json")
                  .deliveryMode(2)
                  .build(),
              body);
          return null;
        });
    return messageId;
  }

  static ControlMessage command(Command command, Target target, boolean requeue) {
    return new ControlMessage(Ids.newId(), command, target, requeue, Instant.now(), "test@host");
  }

  static void control(TestBroker broker, ControlMessage message) {
    controlRaw(broker, Wire.encode(message), Map.of());
  }

  static void controlRaw(TestBroker broker, byte[] body, Map<String, Object> headers) {
    broker.withConfirms(
        ch -> {
          broker.topology().declareCore(ch);
          ch.basicPublish(
              broker.names().controlExchange(),
              "",
              new AMQP.BasicProperties.Builder()
                  .contentType("application/json")
                  .headers(headers)
                  .build(),
              body);
          return null;
        });
  }
}
