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
import java.io.StringWriter;
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
    String what = STDIN.equals(file) ? "the payload on stdin" : "payload file " + file;
    return parseJson(readAll(file, stdin, what), what);
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
    List<TaskMessage> tasks = new ArrayList<>();
    Map<String, Integer> lineOfId = new HashMap<>();
    // Every bad line, by number: a file is fixed in one go, not one error per run.
    SortedMap<Integer, String> errors = new TreeMap<>();
    int lineNo = 0;
    for (String line = reader.readLine(); line != null; line = reader.readLine()) {
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

  private static BufferedReader open(String file, InputStream stdin) throws IOException {
    if (STDIN.equals(file)) {
      return new BufferedReader(
          new InputStreamReader(stdin, StandardCharsets.UTF_8.newDecoder()) {
            @Override
            public void close() {
              // Never close the process's stdin.
            }
          });
    }
    return Files.newBufferedReader(Path.of(file), StandardCharsets.UTF_8);
  }

  private static String readAll(String file, InputStream stdin, String what) {
    try (BufferedReader reader = open(file, stdin)) {
      StringWriter text = new StringWriter();
      reader.transferTo(text);
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
