package dev.conveyor.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.conveyor.protocol.wire.Wire;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A benchmark's results: plain lines for people and, alongside, the same figures as one JSON object
 * ({@code --json}). Printed once, at the end, on stdout.
 */
final class Report {
  private final List<String> lines = new ArrayList<>();
  private final Map<String, Object> json = new LinkedHashMap<>();

  private final String loadAtStart = Machine.loadAverage();
  private final Conditions.Meter whole = Conditions.start();

  Report(String benchmark) {
    json.put("benchmark", benchmark);
    json.put("machine", Machine.describe());
  }

  /** A line of the plain output. */
  Report text(String format, Object... args) {
    lines.add(String.format(format, args));
    return this;
  }

  /** A figure of the JSON output. */
  Report put(String key, Object value) {
    json.put(key, value);
    return this;
  }

  void print(PrintStream out, boolean asJson) {
    String loadAtEnd = Machine.loadAverage();
    Conditions c = whole.end();
    json.put("loadAverage", Map.of("start", loadAtStart, "end", loadAtEnd));
    json.put("conditions", c.json());
    lines.add("");
    lines.add(
        "load average (1/5/15 min) at start: "
            + loadAtStart
            + ", at end: "
            + loadAtEnd
            + "; over the whole run "
            + c
            + " — whatever else runs on the machine competes for its CPUs");
    if (asJson) {
      try {
        out.println(Wire.JSON.writeValueAsString(json));
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    } else {
      lines.forEach(out::println);
    }
    out.flush();
  }

  /** Where the figures come from: stated with every result, since it matters most. */
  static final class Machine {
    private Machine() {}

    static Map<String, Object> describe() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("cpus", Runtime.getRuntime().availableProcessors());
      m.put("java", System.getProperty("java.vm.name") + " " + Runtime.version());
      m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
      return m;
    }

    /** The first three fields of /proc/loadavg, or "unknown". */
    static String loadAverage() {
      try {
        String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
        return f[0] + " " + f[1] + " " + f[2];
      } catch (IOException | RuntimeException e) {
        return "unknown";
      }
    }

    static String line() {
      Map<String, Object> m = describe();
      return String.format("machine: %s CPUs, %s, %s", m.get("cpus"), m.get("java"), m.get("os"));
    }
  }
}
