package dev.conveyor.producer;

import dev.conveyor.protocol.cli.PrintableWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One status line on stderr that rewrites itself, for people watching a long run. It is drawn only
 * on a terminal: in a pipe or a log file carriage returns are noise. Thread-safe: a notice from the
 * connection's thread ({@link #message}) may come while the main thread redraws.
 */
final class ProgressLine {

  /** Below this many tasks a run is over before a progress line would help. */
  static final long MIN_TOTAL = 100;

  private static final String CLEAR = "\r\033[2K";
  private static final long REDRAW_NANOS = 100_000_000L;

  private final PrintWriter err;

  /** {@code err} without its escaping, for the line's own control sequence. */
  private final PrintWriter draw;

  private final boolean enabled;
  private String text;
  private boolean drawn;
  private long lastDraw;

  ProgressLine(PrintWriter err, boolean enabled) {
    this.err = err;
    this.draw = PrintableWriter.unescaped(err);
    this.enabled = enabled;
  }

  static ProgressLine forRun(PrintWriter err, long total, boolean stderrIsTerminal) {
    return new ProgressLine(err, stderrIsTerminal && total >= MIN_TOTAL);
  }

  /** Redraws at most ten times a second unless {@code force}d. */
  synchronized void update(String newText, boolean force) {
    text = newText;
    if (!enabled) {
      return;
    }
    long now = System.nanoTime();
    if (force || !drawn || now - lastDraw >= REDRAW_NANOS) {
      draw.print(CLEAR + text);
      draw.flush();
      drawn = true;
      lastDraw = now;
    }
  }

  /** Takes the line off the screen before other output is written (stdout may share it). */
  synchronized void hide() {
    if (enabled && drawn) {
      draw.print(CLEAR);
      draw.flush();
      drawn = false;
    }
  }

  /** Prints a line of its own on stderr; the progress line comes back with the next update. */
  synchronized void message(String line) {
    hide();
    err.println(line);
    err.flush();
  }

  /** Leaves the last state on the screen and ends the line. */
  synchronized void finish() {
    if (enabled && text != null) {
      draw.print(CLEAR + text + System.lineSeparator());
      draw.flush();
      drawn = false;
      text = null;
    }
  }

  /**
   * Whether the process's stderr is a terminal. Linux tells through {@code /proc}; elsewhere the
   * console is the best hint Java gives (from JDK 22 it exists even when redirected, so ask it).
   */
  static boolean stderrIsTerminal() {
    try {
      String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      java.io.Console console = System.console();
      if (console == null) {
        return false;
      }
      try {
        Method isTerminal = java.io.Console.class.getMethod("isTerminal");
        return (Boolean) isTerminal.invoke(console);
      } catch (ReflectiveOperationException noSuchMethodBeforeJdk22) {
        return true;
      }
    }
  }
}
