package dev.conveyor.e2e;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Short {@code exec} tasks for fault tests, each of which appends its id to a file when it starts:
 * that file says what actually ran, and how often, whatever the events say. A task runs {@code
 * /bin/sh} (workers need {@code --exec-allow /bin/sh}) and then sleeps for {@code seconds}.
 */
final class ExecRuns {

  private final Path ran;
  private final Path tasks;
  private final List<String> ids;

  private ExecRuns(Path ran, Path tasks, List<String> ids) {
    this.ran = ran;
    this.tasks = tasks;
    this.ids = ids;
  }

  /**
   * @param fields extra wire fields for every task, e.g. {@code "maxAttempts":2}, or ""
   */
  static ExecRuns create(Path dir, int count, double seconds, String fields) {
    try {
      Path ran = Files.createFile(dir.resolve("ran"));
      List<String> ids = new ArrayList<>();
      StringBuilder lines = new StringBuilder();
      for (int i = 0; i < count; i++) {
        String id = String.format("t%04d-%s", i, UUID.randomUUID().toString().substring(0, 8));
        ids.add(id);
        lines.append(
            "{\"id\":\"%s\",\"type\":\"exec\",%s\"payload\":{\"command\":[\"/bin/sh\",\"-c\",\"echo %s >> %s; exec sleep %s\"]}}\n"
                .formatted(id, fields.isEmpty() ? "" : fields + ",", id, ran, seconds));
      }
      Path tasks = Files.writeString(dir.resolve("tasks.jsonl"), lines);
      return new ExecRuns(ran, tasks, List.copyOf(ids));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The JSON Lines file for {@code producer publish --from}. */
  Path tasksFile() {
    return tasks;
  }

  List<String> ids() {
    return ids;
  }

  /** How many times each task has started, by the lines its runs appended. */
  Map<String, Long> runs() {
    try {
      return Files.readAllLines(ran, StandardCharsets.UTF_8).stream()
          .filter(l -> !l.isBlank())
          .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Tasks that started at least once. */
  int started() {
    return runs().size();
  }

  /** The tasks that started more than once, with their counts. */
  Map<String, Long> moreThanOnce() {
    Map<String, Long> out = new TreeMap<>();
    runs()
        .forEach(
            (id, n) -> {
              if (n > 1) {
                out.put(id, n);
              }
            });
    return out;
  }

  List<String> neverRan() {
    Map<String, Long> runs = runs();
    return ids.stream().filter(id -> !runs.containsKey(id)).toList();
  }
}
