package dev.conveyor.producer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Reads what users hand the CLI (a payload, a JSON Lines file) and turns every mistake into one
 * {@link UsageException} line that says where it is. A whole file is read and checked before
 * anything is published, so a bad line never leaves a file half-published.
 */
final class TaskInput {

  /** Stdin, for {@code --from -} and {@code --payload-file -}. */
  static final String STDIN = "-";

  /**
   * The longest payload file and task line read, in characters: RabbitMQ refuses a message over 128
   * MiB by default ({@code max_message_size}). Without a bound, a file without line breaks ({@code
   * /dev/zero}, a binary) ran the JVM out of memory.
   */
  static final int MAX_CHARS = 128 * 1024 * 1024;

  private TaskInput() {}

  /** Limits given on the command line, applied to lines that do not set their own. */
  record Defaults(Long timeoutMs, Long graceMs, Integer maxAttempts, Instant expiresAt) {
    static final Defaults NONE = new Defaults(null, null, null, null);

    TaskMessage applyTo(TaskMessage t) {
      return new TaskMessage(
          t.id(),
          t.type(),
          t.payload(),
          t.timeoutMs() != null ? t.timeoutMs() : timeoutMs,
          t.graceMs() != null ? t.graceMs() : graceMs,
          t.maxAttempts() != null ? t.maxAttempts() : maxAttempts,
          t.expiresAt() != null ? t.expiresAt() : expiresAt,
          t.createdAt());
    }
  }

  /**
   * @param what how to name the source in an error, e.g. {@code --payload}
   */
  static JsonNode parseJson(String text, String what) {
    try {
      JsonNode node = Wire.readDocument(text);
      if (node == null || node.isMissingNode()) {
        throw new UsageException(what + " is empty; give a JSON value such as {\"seconds\":5}");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw new UsageException(what + " is not valid JSON: " + Wire.describe(e));
    }
  }

  static JsonNode readPayloadFile(String file, InputStream stdin) {
    return readPayloadFile(file, stdin, MAX_CHARS);
  }

  static JsonNode readPayloadFile(String file, InputStream stdin, int maxChars) {
    String what = STDIN.equals(file) ? "the payload on stdin" : "payload file " + file;
    return parseJson(readAll(file, stdin, what, maxChars), what);
  }

  /** How many bad lines of a file are described one by one; the others are only numbered. */
  static final int DESCRIBED = 20;

  /** Reads JSON Lines: one task per line in the wire format, blank lines ignored. */
  static List<TaskMessage> readTasks(
      String file, InputStream stdin, Defaults defaults, Clock clock) {
    return readTasks(file, stdin, defaults, clock, task -> Optional.empty());
  }

  /**
   * @param check what else makes a task unpublishable (e.g. a deadline beyond the broker's lease),
   *     reported against its line like any other mistake
   */
  static List<TaskMessage> readTasks(
      String file,
      InputStream stdin,
      Defaults defaults,
      Clock clock,
      Function<TaskMessage, Optional<String>> check) {
    String source = STDIN.equals(file) ? "stdin" : file;
    try (BufferedReader reader = open(file, stdin)) {
      return parseTasks(reader, source, defaults, clock, check);
    } catch (CharacterCodingException e) {
      throw new UsageException(source + " is not valid UTF-8");
    } catch (NoSuchFileException e) {
      throw new UsageException("no such file: " + file);
    } catch (IOException e) {
      throw new UsageException("cannot read " + source + ": " + e.getMessage());
    }
  }

  static List<TaskMessage> parseTasks(
      BufferedReader reader, String source, Defaults defaults, Clock clock) throws IOException {
    return parseTasks(reader, source, defaults, clock, task -> Optional.empty());
  }

  static List<TaskMessage> parseTasks(
      BufferedReader reader,
      String source,
      Defaults defaults,
      Clock clock,
      Function<TaskMessage, Optional<String>> check)
      throws IOException {
    return parseTasks(reader, source, defaults, clock, check, MAX_CHARS);
  }

  /**
   * @param maxChars the longest line read: a longer one ends the reading with a usage error
   */
  static List<TaskMessage> parseTasks(
      BufferedReader reader,
      String source,
      Defaults defaults,
      Clock clock,
      Function<TaskMessage, Optional<String>> check,
      int maxChars)
      throws IOException {
    Lines lines = new Lines(reader, maxChars);
    List<TaskMessage> tasks = new ArrayList<>();
    Map<String, Integer> lineOfId = new HashMap<>();
    // Every bad line, by number: a file is fixed in one go, not one error per run.
    SortedMap<Integer, String> errors = new TreeMap<>();
    int lineNo = 0;
    while (true) {
      String line;
      try {
        line = lines.next();
      } catch (Lines.TooLongException e) {
        throw new UsageException(
            source
                + " line "
                + (lineNo + 1)
                + " is over "
                + size(maxChars)
                + " (a task is one line); nothing was published");
      }
      if (line == null) {
        break;
      }
      lineNo++;
      if (line.isBlank()) {
        continue;
      }
      try {
        TaskMessage task = parseLine(line, defaults, clock);
        Integer earlier = lineOfId.putIfAbsent(task.id(), lineNo);
        if (earlier != null) {
          throw new MalformedMessageException(
              "duplicate id " + task.id() + " (also on line " + earlier + ")");
        }
        Optional<String> problem = check.apply(task);
        if (problem.isPresent()) {
          throw new MalformedMessageException(problem.get());
        }
        tasks.add(task);
      } catch (MalformedMessageException e) {
        errors.put(lineNo, e.getMessage());
      }
    }
    if (errors.size() == 1) {
      var only = errors.entrySet().iterator().next();
      throw new UsageException(
          source + " line " + only.getKey() + ": " + only.getValue() + "; nothing was published");
    }
    if (!errors.isEmpty()) {
      throw new UsageException(describe(source, errors));
    }
    if (tasks.isEmpty()) {
      throw new UsageException(source + " has no tasks");
    }
    return tasks;
  }

  /** A summary line with every bad line's number, then the first ones with what is wrong. */
  private static String describe(String source, SortedMap<Integer, String> errors) {
    StringBuilder text =
        new StringBuilder(source)
            .append(" has ")
            .append(errors.size())
            .append(" bad lines (")
            .append(ranges(errors.keySet()))
            .append("); nothing was published");
    List<Integer> rest = new ArrayList<>();
    for (var error : errors.entrySet()) {
      if (rest.isEmpty() && errors.headMap(error.getKey()).size() < DESCRIBED) {
        text.append("\n  line ").append(error.getKey()).append(": ").append(error.getValue());
      } else {
        rest.add(error.getKey());
      }
    }
    if (!rest.isEmpty()) {
      text.append("\n  … and ").append(rest.size()).append(" more: lines ").append(ranges(rest));
    }
    return text.toString();
  }

  /** {@code 2-29, 31, 33, 34, 36-40}: runs of three or more as ranges. */
  static String ranges(Iterable<Integer> sorted) {
    List<String> parts = new ArrayList<>();
    Integer from = null;
    Integer to = null;
    for (int n : sorted) {
      if (to != null && n == to + 1) {
        to = n;
        continue;
      }
      if (from != null) {
        parts.add(range(from, to));
      }
      from = n;
      to = n;
    }
    if (from != null) {
      parts.add(range(from, to));
    }
    return String.join(", ", parts);
  }

  private static String range(int from, int to) {
    return from == to ? "" + from : to == from + 1 ? from + ", " + to : from + "-" + to;
  }

  private static TaskMessage parseLine(String line, Defaults defaults, Clock clock)
      throws MalformedMessageException {
    JsonNode node;
    try {
      node = Wire.readDocument(line);
    } catch (JsonProcessingException e) {
      throw new MalformedMessageException("not JSON: " + Wire.describe(e));
    }
    // On the wire an empty id means "none"; written in a file it is a mistake, not a request for
    // a generated one.
    JsonNode id = node == null ? null : node.get("id");
    if (id != null && id.isTextual() && id.asText().isBlank()) {
      throw new MalformedMessageException(
          "id must not be empty (leave it out to have one generated)");
    }
    // The worker's own decoder, so the file is judged exactly as the worker would judge it.
    TaskMessage task = Wire.decodeTask(node, null);
    try {
      return TaskPublisher.complete(defaults.applyTo(task), clock);
    } catch (IllegalArgumentException e) {
      throw new MalformedMessageException(e.getMessage());
    }
  }

  /** {@code 128 MiB}, or a small test limit in characters. */
  private static String size(int chars) {
    return chars % (1024 * 1024) == 0 ? chars / (1024 * 1024) + " MiB" : chars + " characters";
  }

  /**
   * The lines of a reader, split at {@code \n} (a {@code \r} before it dropped), none longer than a
   * limit: {@link BufferedReader#readLine} holds a line whole, however long.
   */
  static final class Lines {
    static final class TooLongException extends IOException {
      TooLongException() {
        super("line too long");
      }
    }

    private final Reader in;
    private final int maxChars;
    private final char[] buf = new char[8192];
    private int pos;
    private int end;

    Lines(Reader in, int maxChars) {
      this.in = in;
      this.maxChars = maxChars;
    }

    /** The next line, without its line break; null at the end. */
    String next() throws IOException {
      StringBuilder line = new StringBuilder();
      boolean read = false;
      while (true) {
        if (pos == end) {
          int n = in.read(buf);
          if (n < 0) {
            return read ? checked(line) : null;
          }
          pos = 0;
          end = n;
          continue;
        }
        read = true;
        int stop = pos;
        while (stop < end && buf[stop] != '\n') {
          stop++;
        }
        if (line.length() + (stop - pos) > maxChars + 1) { // + 1: a \r before the \n
          throw new TooLongException();
        }
        line.append(buf, pos, stop - pos);
        if (stop < end) {
          pos = stop + 1;
          return checked(line);
        }
        pos = end;
      }
    }

    private String checked(StringBuilder line) throws TooLongException {
      int length = line.length();
      if (length > 0 && line.charAt(length - 1) == '\r') {
        line.setLength(--length);
      }
      if (length > maxChars) {
        throw new TooLongException();
      }
      return line.toString();
    }
  }

  /**
   * The text of {@code file} ({@code -}: stdin) as UTF-8, past a byte-order mark at its start,
   * which editors on Windows write and JSON does not allow.
   */
  private static BufferedReader open(String file, InputStream stdin) throws IOException {
    BufferedReader reader;
    if (STDIN.equals(file)) {
      reader =
          new BufferedReader(
              new InputStreamReader(stdin, StandardCharsets.UTF_8.newDecoder()) {
                @Override
                public void close() {
                  // Never close the process's stdin.
                }
              });
    } else {
      reader = Files.newBufferedReader(Path.of(file), StandardCharsets.UTF_8);
    }
    try {
      reader.mark(1);
      if (reader.read() != '\uFEFF') {
        reader.reset();
      }
      return reader;
    } catch (IOException e) {
      reader.close();
      throw e;
    }
  }

  private static String readAll(String file, InputStream stdin, String what, int maxChars) {
    try (BufferedReader reader = open(file, stdin)) {
      StringBuilder text = new StringBuilder();
      char[] buf = new char[8192];
      for (int n = reader.read(buf); n >= 0; n = reader.read(buf)) {
        if (text.length() + n > maxChars) {
          throw new UsageException(what + " is over " + size(maxChars));
        }
        text.append(buf, 0, n);
      }
      return text.toString();
    } catch (CharacterCodingException e) {
      throw new UsageException(what + " is not valid UTF-8");
    } catch (NoSuchFileException e) {
      throw new UsageException(what + " does not exist");
    } catch (IOException e) {
      throw new UsageException("cannot read " + what + ": " + e.getMessage());
    }
  }
}
