package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;

/** The one JSON codec for everything Conveyor puts on the broker (docs/protocol.md). */
public final class Wire {

  public static final String CONTENT_TYPE = "application/json";

  /** Shared, immutable after construction, thread-safe. */
  public static final ObjectMapper JSON =
      new ObjectMapper()
          .registerModule(new JavaTimeModule())
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
          .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE);

  /**
   * For whole documents: '{"type":"noop"} junk' is malformed, not a task followed by noise. (Not on
   * {@link #JSON} itself: nested tree reads inside a document would fail the check.)
   */
  private static final ObjectReader DOCUMENT =
      JSON.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** A message a worker reads or writes besides tasks, for {@link #prepare}. */
  private record Sample(Class<?> type, String json) {}

  private static final List<Sample> SAMPLES =
      List.of(
          new Sample(
              ControlMessage.class,
              """
              {"command":"stop","target":{"all":true},"issuedAt":"2026-01-01T00:00:00Z"}"""),
          new Sample(
              ControlMessage.class,
              """
              {"command":"kill","target":{"tasks":["t"]},"requeue":true}"""),
          new Sample(
              ControlMessage.class,
              """
              {"command":"pause","target":{"workers":["w"]}}"""),
          new Sample(
              ControlMessage.class,
              """
              {"command":"stop","target":{"types":["sleep"]}}"""),
          new Sample(
              TaskEvent.class,
              """
              {"task":"t","type":"sleep","state":"cancelled","worker":"w","attempt":1,\
              "at":"2026-01-01T00:00:00Z","durationMs":1,"cause":"user-stop","issuedBy":"u@h"}"""),
          new Sample(
              CommandApplied.class,
              """
              {"command":"c","verb":"stop","worker":"w","stopped":["t"],"killed":[],"revoked":[],\
              "paused":false,"at":"2026-01-01T00:00:00Z","issuedBy":"u@h"}"""),
          new Sample(
              WorkerStatus.class,
              """
              {"worker":"w","host":"h","pid":1,"queues":["default"],"concurrency":1,"paused":false,\
              "startedAt":"2026-01-01T00:00:00Z","tasks":[{"id":"t","type":"sleep","attempt":1,\
              "startedAt":"2026-01-01T00:00:00Z","ageMs":1,"stage":"running"}]}"""));

  private static final InstantText.Reader CREATED_AT = new InstantText.Reader();
  private static final InstantText.Reader EXPIRES_AT = new InstantText.Reader();
  private static final InstantText.Reader ISSUED_AT = new InstantText.Reader();

  private Wire() {}

  /**
   * Builds the codec's readers and writers for control messages, events, acknowledgements and
   * status replies now. Jackson builds them on first use, and in a JVM that had only handled tasks
   * that made the first stop late (figures in docs/benchmarks.md).
   */
  public static void prepare() {
    try {
      for (Sample sample : SAMPLES) {
        byte[] body = sample.json().getBytes(StandardCharsets.UTF_8);
        encode(
            sample.type() == ControlMessage.class
                ? decodeControl(body)
                : decode(body, sample.type()));
      }
    } catch (MalformedMessageException e) {
      throw new IllegalStateException("a built-in sample no longer decodes", e);
    }
  }

  /** Parses one whole JSON document, refusing anything after the value. */
  public static JsonNode readDocument(String text) throws JsonProcessingException {
    return DOCUMENT.readTree(text);
  }

  public static byte[] encode(Object value) {
    try {
      return JSON.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static String toJson(Object value) {
    return new String(encode(value), StandardCharsets.UTF_8);
  }

  /**
   * Decodes a task body. A missing {@code id} is taken from the AMQP {@code message_id}, else
   * generated, so that third-party producers only need {@code type}. A body in the form producers
   * write is read in one pass ({@link TaskForm}); any other through its tree, as {@link
   * #decodeTask(JsonNode, String)} reads it, which gives the same task.
   */
  public static TaskMessage decodeTask(byte[] body, String messageId)
      throws MalformedMessageException {
    TaskMessage task = TaskForm.read(body, EXPIRES_AT, CREATED_AT);
    return task == null ? decodeTaskByTree(body, messageId) : completed(task, messageId);
  }

  /** {@link #decodeTask(byte[], String)} through the body's tree, whatever its form. */
  static TaskMessage decodeTaskByTree(byte[] body, String messageId)
      throws MalformedMessageException {
    return decodeTask(tree(body), messageId);
  }

  /**
   * Decodes a task already parsed as JSON (see {@link #readDocument}). Every field must have its
   * JSON type: a value that Jackson would convert (1.5 to 1, "3" to 3, a number to epoch seconds)
   * is refused with what it should be, since converting it would silently change the task.
   */
  public static TaskMessage decodeTask(JsonNode node, String messageId)
      throws MalformedMessageException {
    if (node == null || !node.isObject()) {
      throw new MalformedMessageException("task body must be a JSON object");
    }
    JsonNode type = node.get("type");
    if (type == null || type.isNull() || (type.isTextual() && type.asText().isBlank())) {
      throw new MalformedMessageException("task has no 'type'");
    }
    if (!type.isTextual()) {
      throw new MalformedMessageException("type must be a string");
    }
    checkTypes(node);
    TaskMessage task;
    try {
      task = taskOf(node);
    } catch (JsonProcessingException e) {
      throw new MalformedMessageException("invalid task: " + firstLine(e.getOriginalMessage()));
    }
    return completed(task, messageId);
  }

  /** The task with an id, if its values make it runnable. */
  private static TaskMessage completed(TaskMessage task, String messageId)
      throws MalformedMessageException {
    if (task.id() == null || task.id().isBlank()) {
      task = task.withId(messageId != null && !messageId.isBlank() ? messageId : Ids.newId());
    }
    var problem = task.problem();
    if (problem.isPresent()) {
      throw new MalformedMessageException(problem.get());
    }
    return task;
  }

  /**
   * The task of a tree whose types {@link #checkTypes} has checked, read field by field: what
   * Jackson's record binding would give, at a fraction of its cost on the worker's delivery thread.
   * An instant {@link Instant#parse} refuses is left to that binding, for its leniency and its
   * wording.
   */
  private static TaskMessage taskOf(JsonNode node) throws JsonProcessingException {
    Instant expiresAt;
    Instant createdAt;
    try {
      expiresAt = instant(node.get("expiresAt"), EXPIRES_AT);
      createdAt = instant(node.get("createdAt"), CREATED_AT);
    } catch (DateTimeParseException e) {
      return JSON.treeToValue(node, TaskMessage.class);
    }
    JsonNode id = node.get("id");
    JsonNode timeoutMs = node.get("timeoutMs");
    JsonNode graceMs = node.get("graceMs");
    JsonNode maxAttempts = node.get("maxAttempts");
    return new TaskMessage(
        id == null || id.isNull() ? null : id.textValue(),
        node.get("type").textValue(),
        node.get("payload"), // an explicit null stays a NullNode, as Jackson binds it
        timeoutMs == null || timeoutMs.isNull() ? null : timeoutMs.longValue(),
        graceMs == null || graceMs.isNull() ? null : graceMs.longValue(),
        maxAttempts == null || maxAttempts.isNull() ? null : maxAttempts.intValue(),
        expiresAt,
        createdAt);
  }

  private static Instant instant(JsonNode value, InstantText.Reader reader) {
    return value == null || value.isNull() ? null : reader.parse(value.textValue());
  }

  private static void checkTypes(JsonNode task) throws MalformedMessageException {
    JsonNode id = task.get("id");
    if (id != null && !id.isNull() && !id.isTextual()) {
      throw new MalformedMessageException("id must be a string");
    }
    wholeNumber(task, "timeoutMs", Long.MAX_VALUE);
    wholeNumber(task, "graceMs", Long.MAX_VALUE);
    wholeNumber(task, "maxAttempts", Integer.MAX_VALUE);
    for (String instant : List.of("expiresAt", "createdAt")) {
      JsonNode value = task.get(instant);
      if (value != null && !value.isNull() && !value.isTextual()) {
        throw new MalformedMessageException(
            instant + " must be an ISO-8601 string such as 2026-11-21T12:00:00Z");
      }
    }
  }

  private static void wholeNumber(JsonNode task, String field, long max)
      throws MalformedMessageException {
    JsonNode value = task.get(field);
    if (value == null || value.isNull()) {
      return;
    }
    if (value.isTextual()) {
      throw new MalformedMessageException(field + " must be a number, not a string");
    }
    if (!value.isIntegralNumber()) {
      throw new MalformedMessageException(
          field + " must be a whole number (got " + value.toString() + ")");
    }
    if (value.bigIntegerValue().compareTo(java.math.BigInteger.valueOf(max)) > 0) {
      throw new MalformedMessageException(field + " must be at most " + max);
    }
    if (value.bigIntegerValue().compareTo(java.math.BigInteger.valueOf(-max - 1)) < 0) {
      throw new MalformedMessageException(field + " is out of range (got " + value + ")");
    }
  }

  /** Decodes a control message, refusing one without a command or target. */
  public static ControlMessage decodeControl(byte[] body) throws MalformedMessageException {
    JsonNode node = tree(body);
    ControlMessage message = controlOf(node);
    if (message == null) {
      try {
        message = JSON.treeToValue(node, ControlMessage.class);
      } catch (JsonProcessingException e) {
        throw new MalformedMessageException(
            "invalid control message: " + firstLine(e.getOriginalMessage()));
      }
    }
    if (message == null || message.command() == null) {
      throw new MalformedMessageException("control message has no 'command'");
    }
    if (message.target() == null && message.command() != Command.STATUS) {
      throw new MalformedMessageException("control message has no 'target'");
    }
    return message;
  }

  /**
   * The control message of a tree in the form {@code control} and the workers write it, read field
   * by field: what Jackson's record binding gives, without its code, which a worker runs too seldom
   * for the JIT to compile, on the path of every kill. The target by the binding's own rules
   * ({@link TargetTree}). Null for any other form (a value of another JSON type, an unknown
   * command, a target the rules refuse, an instant {@link Instant#parse} refuses): that is left to
   * the binding, for its leniency and its wording.
   */
  static ControlMessage controlOf(JsonNode node) {
    if (node == null || !node.isObject()) {
      return null;
    }
    JsonNode id = node.get("id");
    JsonNode command = node.get("command");
    JsonNode target = node.get("target");
    JsonNode requeue = node.get("requeue");
    JsonNode issuedAt = node.get("issuedAt");
    JsonNode issuedBy = node.get("issuedBy");
    if (!textOrAbsent(id)
        || command == null
        || !command.isTextual()
        || !textOrAbsent(issuedAt)
        || !textOrAbsent(issuedBy)
        || !(requeue == null || requeue.isNull() || requeue.isBoolean())) {
      return null;
    }
    Command verb = null;
    for (Command c : Command.values()) {
      if (c.wire().equals(command.textValue())) {
        verb = c;
        break;
      }
    }
    if (verb == null) {
      return null;
    }
    Target whom = null;
    if (target != null && !target.isNull()) {
      try {
        whom = TargetTree.read(target);
      } catch (TargetTree.Refused r) {
        return null;
      }
    }
    Instant at = null;
    if (issuedAt != null && !issuedAt.isNull()) {
      try {
        at = ISSUED_AT.parse(issuedAt.textValue());
      } catch (DateTimeParseException e) {
        return null;
      }
    }
    return new ControlMessage(
        id == null || id.isNull() ? null : id.textValue(),
        verb,
        whom,
        requeue != null && requeue.booleanValue(),
        at,
        issuedBy == null || issuedBy.isNull() ? null : issuedBy.textValue());
  }

  private static boolean textOrAbsent(JsonNode value) {
    return value == null || value.isNull() || value.isTextual();
  }

  public static <T> T decode(byte[] body, Class<T> type) throws MalformedMessageException {
    try {
      T value = JSON.readValue(body, type);
      if (value == null) { // a JSON null, which holds no message
        throw new MalformedMessageException("invalid " + type.getSimpleName() + ": null");
      }
      return value;
    } catch (IOException e) {
      throw new MalformedMessageException(
          "invalid " + type.getSimpleName() + ": " + firstLine(e.getMessage()));
    }
  }

  /**
   * Decodes an event message, which holds one event (a JSON object) or several sharing its routing
   * key (a JSON array of objects), as a worker sends when events queue up (docs/protocol.md).
   */
  public static <T> List<T> decodeBatch(byte[] body, Class<T> type)
      throws MalformedMessageException {
    List<T> read = EventForm.read(body, type);
    if (read != null) {
      return read;
    }
    return decodeBatchByMapper(body, type);
  }

  /** {@link #decodeBatch} by the object mapper alone: what {@link EventForm} must agree with. */
  static <T> List<T> decodeBatchByMapper(byte[] body, Class<T> type)
      throws MalformedMessageException {
    if (!isBatch(body)) {
      return List.of(decode(body, type));
    }
    try {
      List<T> events =
          JSON.readerForListOf(type)
              .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
              .readValue(body);
      if (events.contains(null)) {
        throw new MalformedMessageException("invalid " + type.getSimpleName() + ": null in array");
      }
      return events;
    } catch (IOException e) {
      throw new MalformedMessageException(
          "invalid " + type.getSimpleName() + " array: " + firstLine(e.getMessage()));
    }
  }

  /**
   * How many events an event message holds, without decoding them: 1 for an object, the number of
   * elements for an array (0 if it is empty or never closes).
   *
   * <p>One pass over the bytes that counts the commas between the array's own elements, skipping
   * strings and nested values: a reader counting a busy worker's outcomes does this for every
   * message, so it does not tokenize them. Nor does it validate them (a mismatched bracket goes
   * unnoticed); {@code EventSubscription.decodeAll} (a reader of events) does.
   */
  public static int countEvents(byte[] body) {
    if (!isBatch(body)) {
      return 1;
    }
    int depth = 0;
    int commas = 0;
    boolean any = false;
    boolean inString = false;
    for (int i = firstNonBlank(body); i < body.length; i++) {
      byte b = body[i];
      if (inString) {
        if (b == '\\') {
          i++; // the escaped character, a quote included
        } else if (b == '"') {
          inString = false;
        }
        continue;
      }
      switch (b) {
        case '"' -> {
          inString = true;
          any = true;
        }
        case '[', '{' -> {
          if (depth > 0) {
            any = true;
          }
          depth++;
        }
        case ']', '}' -> {
          if (--depth < 0) {
            return 0;
          }
          if (depth == 0) {
            return any ? commas + 1 : 0;
          }
        }
        case ',' -> {
          if (depth == 1) {
            commas++;
          }
        }
        case ' ', '\n', '\r', '\t' -> {}
        default -> any = true;
      }
    }
    return 0;
  }

  /** The index of the first byte that is not white space; -1 if there is none. */
  private static int firstNonBlank(byte[] body) {
    for (int i = 0; i < body.length; i++) {
      byte b = body[i];
      if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
        return i;
      }
    }
    return -1;
  }

  /**
   * Whether an event message holds a batch (a JSON array), without decoding it: its first character
   * that is not white space opens an array.
   */
  public static boolean isBatch(byte[] body) {
    int first = firstNonBlank(body);
    return first >= 0 && body[first] == '[';
  }

  private static JsonNode tree(byte[] body) throws MalformedMessageException {
    try {
      JsonNode node = DOCUMENT.readTree(body);
      if (node == null || node.isMissingNode()) {
        throw new MalformedMessageException("empty body");
      }
      return node;
    } catch (IOException e) {
      throw new MalformedMessageException(
          "not JSON: " + (e instanceof JsonProcessingException j ? describe(j) : e.getMessage()));
    }
  }

  /** A parse error in one line, with the column where it was found. */
  public static String describe(JsonProcessingException e) {
    String first = firstLine(e.getOriginalMessage());
    if (first.isEmpty()) {
      first = "unreadable";
    }
    return e.getLocation() == null
        ? first
        : first + " (column " + e.getLocation().getColumnNr() + ")";
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
