package dev.conveyor.protocol.cli;

import java.io.FilterWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;

/**
 * Text for a terminal, from the broker: task ids, types, reasons and worker names come from whoever
 * publishes tasks and events (a handler's exception message can quote its payload), and a control
 * character among them, an escape sequence, would be obeyed by the terminal of the operator who
 * reads them: recolour, retitle or clear it, or move the cursor to forge a line. So control
 * characters other than the line break, and the Unicode controls that reorder what is shown
 * (bidirectional overrides), are written as {@code \\u001b}-style escapes; everything else passes
 * unchanged. JSON output has none to escape (Jackson writes them as escapes already).
 */
public final class PrintableWriter extends FilterWriter {

  private PrintableWriter(Writer out) {
    super(out);
  }

  /** {@code out} behind this filter, flushing as {@code out} did on {@code println}. */
  public static PrintWriter around(PrintWriter out, boolean autoFlush) {
    return new PrintWriter(new PrintableWriter(out), autoFlush);
  }

  /** Whether {@code c} is written as an escape. */
  static boolean unsafe(char c) {
    return (c < 0x20 && c != '\n')
        || (c >= 0x7f && c <= 0x9f)
        || c == 0x061c
        || c == 0x200e
        || c == 0x200f
        || (c >= 0x202a && c <= 0x202e)
        || (c >= 0x2066 && c <= 0x2069);
  }

  @Override
  public void write(int c) throws IOException {
    if (unsafe((char) c)) {
      out.write(escape((char) c));
    } else {
      out.write(c);
    }
  }

  @Override
  public void write(char[] buf, int off, int len) throws IOException {
    int from = off;
    int end = off + len;
    for (int i = off; i < end; i++) {
      if (unsafe(buf[i])) {
        out.write(buf, from, i - from);
        out.write(escape(buf[i]));
        from = i + 1;
      }
    }
    out.write(buf, from, end - from);
  }

  @Override
  public void write(String s, int off, int len) throws IOException {
    write(s.toCharArray(), off, len);
  }

  private static String escape(char c) {
    return switch (c) {
      case '\r' -> "\\r";
      case '\t' -> "\\t";
      default -> String.format("\\u%04x", (int) c);
    };
  }
}
