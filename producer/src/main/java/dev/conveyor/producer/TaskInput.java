package dev.conveyor.producer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.protocol.cli.UsageException;
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

  /** Reads JSON Lines: one task per line in the wire format, blank lines ignored. */
  static List<TaskMessage> readTasks(
      String file, InputStream stdin, Defaults defaults, Clock clock) {
    String source = STDIN.equals(file) ? "stdin" : file;
    try (BufferedReader reader = open(file, stdin)) {
      return parseTasks(reader, source, defaults, clock);
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
    List<TaskMessage> tasks = new ArrayList<>();
    Map<String, Integer> lineOfId = new HashMap<>();
    String firstError = null;
    int errors = 0;
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
        tasks.add(task);
      } catch (MalformedMessageException e) {
        errors++;
        if (firstError == null) {
          firstError = source + " line " + lineNo + ": " + e.getMessage();
        }
      }
    }
    if (firstError != null) {
      throw new UsageException(
          firstError
              + (errors > 1 ? " (and " + (errors - 1) + " more bad lines)" : "")
              + "; nothing was published");
    }
    if (tasks.isEmpty()) {
      throw new UsageException(source + " has no tasks");
    }
    return tasks;
  }

  private static TaskMessage parseLine(String line, Defaults defaults, Clock clock)
      throws MalformedMessageException {
    // The worker's own decoder, so the file is judged exactly as the worker would judge it.
    TaskMessage task = Wire.decodeTask(line.getBytes(StandardCharsets.UTF_8), null);
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
