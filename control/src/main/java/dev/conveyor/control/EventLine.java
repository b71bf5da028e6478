package dev.conveyor.control;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;

/** One event as one line: for people, or compact JSON with the routing key as {@code event}. */
final class EventLine {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneId.systemDefault());

  private EventLine() {}

  static String json(Event event) {
    ObjectNode node = Wire.JSON.createObjectNode();
    node.put("event", event.routingKey());
    node.setAll((ObjectNode) Wire.JSON.valueToTree(body(event)));
    return node.toString();
  }

  private static Object body(Event event) {
    return switch (event) {
      case Event.Task t -> t.event();
      case Event.Worker w -> w.event();
      case Event.Applied a -> a.event();
      case Event.Refused r -> r.event();
    };
  }

  static String text(Event event) {
    StringBuilder line = new StringBuilder();
    switch (event) {
      case Event.Task t -> task(line, t.event());
      case Event.Worker w -> worker(line, w.event());
      case Event.Applied a -> applied(line, a.event());
      case Event.Refused r -> refused(line, r.event());
    }
    return line.toString();
  }

  private static void task(StringBuilder line, TaskEvent e) {
    start(line, e.at(), e.routingKey(), e.task());
    field(line, "type", e.type());
    field(line, "queue", e.queue());
    field(line, "worker", e.worker());
    field(line, "attempt", e.attempt());
    field(line, "durationMs", e.durationMs());
    field(line, "cause", e.cause() == null ? null : e.cause().wire());
    field(line, "reason", e.reason());
    field(line, "issuedBy", e.issuedBy());
  }

  private static void worker(StringBuilder line, WorkerEvent e) {
    start(line, e.at(), e.routingKey(), e.worker());
    field(line, "host", e.host());
    field(line, "pid", e.pid());
    field(line, "tasks", list(e.tasks()));
  }

  private static void applied(StringBuilder line, CommandApplied e) {
    start(line, e.at(), CommandApplied.ROUTING_KEY, e.command());
    field(line, "verb", e.verb() == null ? null : e.verb().wire());
    field(line, "worker", e.worker());
    field(line, "stopped", list(e.stopped()));
    field(line, "killed", list(e.killed()));
    field(line, "revoked", list(e.revoked()));
    field(line, "paused", e.paused());
    field(line, "issuedBy", e.issuedBy());
  }

  private static void refused(StringBuilder line, CommandRefused e) {
    start(line, e.at(), CommandRefused.ROUTING_KEY, e.command());
    field(line, "verb", e.verb() == null ? null : e.verb().wire());
    field(line, "worker", e.worker());
    field(line, "reason", e.reason());
    field(line, "issuedBy", e.issuedBy());
  }

  private static void start(StringBuilder line, Instant at, String key, String subject) {
    line.append(TIME.format(at == null ? Instant.now() : at)).append(' ').append(key);
    if (subject != null) {
      line.append(' ').append(subject);
    }
  }

  private static void field(StringBuilder line, String name, Object value) {
    if (value != null) {
      line.append(' ').append(name).append('=').append(value);
    }
  }

  private static String list(List<String> values) {
    return values == null || values.isEmpty() ? null : String.join(",", values);
  }
}
