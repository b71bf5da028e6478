package dev.conveyor.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.WorkerStatus;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The running tasks in {@code control status}: a task in a child JVM shows its child. */
class StatusPrintTest {

  private static final Instant NOW = Instant.now();

  private static String print(WorkerStatus.RunningTask... tasks) {
    StringWriter out = new StringWriter();
    try (PrintWriter w = new PrintWriter(out)) {
      StatusCommand.print(
          List.of(
              new WorkerStatus("w1", "h", 99L, List.of("default"), 4, false, NOW, List.of(tasks))),
          Set.of(),
          w);
    }
    return out.toString();
  }

  @Test
  void aTaskInAChildShowsItsPidTasksRunAndRss() {
    String out =
        print(
            new WorkerStatus.RunningTask(
                "t-1",
                "sleep",
                1,
                NOW,
                1000L,
                null,
                "running",
                null,
                new WorkerStatus.ChildProcess(4711L, 3, 90L * 1024 * 1024)));

    List<String> lines = out.lines().toList();
    String header = lines.stream().filter(l -> l.contains("TASK ")).findFirst().orElseThrow();
    assertThat(header).contains("CHILD", "CHILD TASKS", "CHILD RSS");
    String row = lines.stream().filter(l -> l.contains("t-1")).findFirst().orElseThrow();
    assertThat(row).contains("4711", "3", "90 MiB");
  }

  @Test
  void tasksInThreadsShowNoChildColumns() {
    String out =
        print(new WorkerStatus.RunningTask("t-1", "sleep", 1, NOW, 1000L, null, "running", null));

    assertThat(out).contains("t-1").doesNotContain("CHILD");
  }
}
