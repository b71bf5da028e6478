package dev.conveyor.protocol.cli;

import dev.conveyor.protocol.Printable;
import java.io.FilterWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;

/**
 * What is printed for people, through {@link Printable}: ids, types, reasons and names from the
 * broker with their control characters written as escapes. JSON output has none to escape (Jackson
 * writes them as escapes already).
 */
public final class PrintableWriter extends FilterWriter {

  private PrintableWriter(Writer out) {
    super(out);
  }

  /** {@code out} behind this filter, flushing as {@code out} did on {@code println}. */
  public static PrintWriter around(PrintWriter out, boolean autoFlush) {
    return new Escaping(out, autoFlush);
  }

  /**
   * The writer behind {@code w} if {@code w} escapes, else {@code w}: for a program's own terminal
   * control (a progress line that redraws itself), written in order with what {@code w} prints.
   */
  public static PrintWriter unescaped(PrintWriter w) {
    return w instanceof Escaping e ? e.raw : w;
  }

  /** What {@link #around} returns; it buffers nothing of its own. */
  private static final class Escaping extends PrintWriter {
    private final PrintWriter raw;

    Escaping(PrintWriter raw, boolean autoFlush) {
      super(new PrintableWriter(raw), autoFlush);
      this.raw = raw;
    }
  }

  @Override
  public void write(int c) throws IOException {
    if (Printable.unsafe((char) c, false)) {
      out.write(Printable.escape((char) c));
    } else {
      out.write(c);
    }
  }

  @Override
  public void write(char[] buf, int off, int len) throws IOException {
    int from = off;
    int end = off + len;
    for (int i = off; i < end; i++) {
      if (Printable.unsafe(buf[i], false)) {
        out.write(buf, from, i - from);
        out.write(Printable.escape(buf[i]));
        from = i + 1;
      }
    }
    out.write(buf, from, end - from);
  }

  @Override
  public void write(String s, int off, int len) throws IOException {
    write(s.toCharArray(), off, len);
  }
}
