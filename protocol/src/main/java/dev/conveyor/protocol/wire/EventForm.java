package dev.conveyor.protocol.wire;

import static dev.conveyor.protocol.wire.JsonForms.text;
import static dev.conveyor.protocol.wire.JsonForms.whole;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import dev.conveyor.protocol.wire.JsonForms.OtherForm;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Event messages ({@link TaskEvent}, {@link WorkerEvent}, {@link CommandApplied}, {@link
 * CommandRefused}; one object, or an array of them) in the form workers write, read in one pass of
 * the parser: what the object mapper makes of them, without building the mapper's readers, which on
 * a cold JVM took {@code control stop} tens of milliseconds after the worker's answer had come
 * (docs/benchmarks.md). Only a task's {@code result} is read as a tree.
 *
 * <p>A message is in the form when it is one object or an array of objects and nothing after it;
 * when each field appears at most once and each known one has its JSON type (strings, whole numbers
 * within the field's range, booleans, arrays of strings, instants in {@link Instant#toString()}'s
 * form, enums by their wire names, null) and a worker event runs no tasks. Unknown fields are
 * skipped. Any other message gives null, and is left to the mapper, for its leniencies and its
 * errors.
 */
final class EventForm {

  /** Reads one event's fields, the parser on its START_OBJECT, and leaves it on its END_OBJECT. */
  @FunctionalInterface
  private interface Fields<T> {
    T read(JsonParser p) throws IOException, OtherForm;
  }

  private EventForm() {}

  /** The events of {@code body} as the mapper would decode them; null if not in the form. */
  @SuppressWarnings("unchecked")
  static <T> List<T> read(byte[] body, Class<T> type) {
    Fields<?> fields;
    if (type == TaskEvent.class) {
      fields = EventForm::task;
    } else if (type == CommandApplied.class) {
      fields = EventForm::applied;
    } else if (type == CommandRefused.class) {
      fields = EventForm::refused;
    } else if (type == WorkerEvent.class) {
      fields = EventForm::worker;
    } else {
      return null;
    }
    return (List<T>) readAll(body, fields);
  }

  private static <T> List<T> readAll(byte[] body, Fields<T> fields) {
    try (JsonParser p = Wire.JSON.createParser(body)) {
      List<T> events = new ArrayList<>();
      JsonToken first = p.nextToken();
      if (first == JsonToken.START_OBJECT) {
        events.add(fields.read(p));
      } else if (first == JsonToken.START_ARRAY) {
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
          if (t != JsonToken.START_OBJECT) {
            return null; // null, a scalar or the end of the input: the mapper's to refuse
          }
          events.add(fields.read(p));
        }
      } else {
        return null;
      }
      return p.nextToken() == null ? events : null;
    } catch (OtherForm | IOException | DateTimeParseException e) {
      return null;
    }
  }

  /**
   * Moves to the next field's value and returns the field's name; null at the object's end. A name
   * given twice sends the message to the mapper, which decides which one counts.
   */
  private static String next(JsonParser p, Set<String> seen) throws IOException, OtherForm {
    String name = p.nextFieldName();
    if (name != null) {
      if (!seen.add(name)) {
        throw OtherForm.INSTANCE;
      }
      p.nextToken();
    }
    return name;
  }

  private static TaskEvent task(JsonParser p) throws IOException, OtherForm {
    String task = null;
    String type = null;
    TaskState state = null;
    String worker = null;
    Integer attempt = null;
    Instant at = null;
    Long durationMs = null;
    Cause cause = null;
    String reason = null;
    String issuedBy = null;
    String queue = null;
    JsonNode result = null;
    Set<String> seen = new HashSet<>();
    for (String name; (name = next(p, seen)) != null; ) {
      JsonToken value = p.currentToken();
      switch (name) {
        case "task" -> task = text(p, value);
        case "type" -> type = text(p, value);
        case "state" -> state = wire(text(p, value), TaskState.values(), TaskState::wire);
        case "worker" -> worker = text(p, value);
        case "attempt" -> attempt = integer(p, value);
        case "at" -> at = instant(p, value);
        case "durationMs" -> durationMs = whole(p, value);
        case "cause" -> cause = wire(text(p, value), Cause.values(), Cause::wire);
        case "reason" -> reason = text(p, value);
        case "issuedBy" -> issuedBy = text(p, value);
        case "queue" -> queue = text(p, value);
        case "result" -> {
          // The mapper gives a JSON null as a NullNode too.
          result = value == JsonToken.VALUE_NULL ? NullNode.getInstance() : p.readValueAsTree();
        }
        default -> p.skipChildren();
      }
    }
    return new TaskEvent(
        task, type, state, worker, attempt, at, durationMs, cause, reason, issuedBy, queue, result);
  }

  private static CommandApplied applied(JsonParser p) throws IOException, OtherForm {
    String command = null;
    Command verb = null;
    String worker = null;
    List<String> stopped = null;
    List<String> killed = null;
    List<String> revoked = null;
    boolean paused = false;
    Instant at = null;
    String issuedBy = null;
    Set<String> seen = new HashSet<>();
    for (String name; (name = next(p, seen)) != null; ) {
      JsonToken value = p.currentToken();
      switch (name) {
        case "command" -> command = text(p, value);
        case "verb" -> verb = wire(text(p, value), Command.values(), Command::wire);
        case "worker" -> worker = text(p, value);
        case "stopped" -> stopped = texts(p, value);
        case "killed" -> killed = texts(p, value);
        case "revoked" -> revoked = texts(p, value);
        case "paused" -> paused = bool(value);
        case "at" -> at = instant(p, value);
        case "issuedBy" -> issuedBy = text(p, value);
        default -> p.skipChildren();
      }
    }
    return new CommandApplied(
        command, verb, worker, stopped, killed, revoked, paused, at, issuedBy);
  }

  private static CommandRefused refused(JsonParser p) throws IOException, OtherForm {
    String command = null;
    Command verb = null;
    String worker = null;
    String reason = null;
    Instant at = null;
    String issuedBy = null;
    Set<String> seen = new HashSet<>();
    for (String name; (name = next(p, seen)) != null; ) {
      JsonToken value = p.currentToken();
      switch (name) {
        case "command" -> command = text(p, value);
        case "verb" -> verb = wire(text(p, value), Command.values(), Command::wire);
        case "worker" -> worker = text(p, value);
        case "reason" -> reason = text(p, value);
        case "at" -> at = instant(p, value);
        case "issuedBy" -> issuedBy = text(p, value);
        default -> p.skipChildren();
      }
    }
    return new CommandRefused(command, verb, worker, reason, at, issuedBy);
  }

  private static WorkerEvent worker(JsonParser p) throws IOException, OtherForm {
    String worker = null;
    String state = null;
    Instant at = null;
    List<String> tasks = null;
    String host = null;
    Long pid = null;
    List<WorkerStatus.RunningTask> running = null;
    Set<String> seen = new HashSet<>();
    for (String name; (name = next(p, seen)) != null; ) {
      JsonToken value = p.currentToken();
      switch (name) {
        case "worker" -> worker = text(p, value);
        case "state" -> state = text(p, value);
        case "at" -> at = instant(p, value);
        case "tasks" -> tasks = texts(p, value);
        case "host" -> host = text(p, value);
        case "pid" -> pid = whole(p, value);
        case "running" -> {
          // The tasks a worker runs are left to the mapper; an idle worker's list is empty.
          if (value == JsonToken.START_ARRAY && p.nextToken() == JsonToken.END_ARRAY) {
            running = new ArrayList<>();
          } else if (value != JsonToken.VALUE_NULL) {
            throw OtherForm.INSTANCE;
          }
        }
        default -> p.skipChildren();
      }
    }
    return new WorkerEvent(worker, state, at, tasks, host, pid, running);
  }

  /** A whole number within an int, or null. */
  private static Integer integer(JsonParser p, JsonToken value) throws IOException, OtherForm {
    Long n = whole(p, value);
    if (n != null && p.getNumberType() != JsonParser.NumberType.INT) {
      throw OtherForm.INSTANCE;
    }
    return n == null ? null : n.intValue();
  }

  private static boolean bool(JsonToken value) throws OtherForm {
    return switch (value) {
      case VALUE_TRUE -> true;
      case VALUE_FALSE -> false;
      default -> throw OtherForm.INSTANCE;
    };
  }

  /** An array of strings, or null. */
  private static List<String> texts(JsonParser p, JsonToken value) throws IOException, OtherForm {
    if (value == JsonToken.VALUE_NULL) {
      return null;
    }
    if (value != JsonToken.START_ARRAY) {
      throw OtherForm.INSTANCE;
    }
    List<String> texts = new ArrayList<>();
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      if (t != JsonToken.VALUE_STRING) {
        throw OtherForm.INSTANCE;
      }
      texts.add(p.getText());
    }
    return texts;
  }

  /** An instant in {@link Instant#toString()}'s form (UTC, {@code Z}), or null. */
  private static Instant instant(JsonParser p, JsonToken value) throws IOException, OtherForm {
    String text = text(p, value);
    if (text == null) {
      return null;
    }
    if (!text.endsWith("Z")) {
      throw OtherForm.INSTANCE;
    }
    return Instant.parse(text);
  }

  /** The constant with that wire name, or null for null. */
  private static <E> E wire(String text, E[] values, java.util.function.Function<E, String> wire)
      throws OtherForm {
    if (text == null) {
      return null;
    }
    for (E e : values) {
      if (wire.apply(e).equals(text)) {
        return e;
      }
    }
    throw OtherForm.INSTANCE;
  }
}
