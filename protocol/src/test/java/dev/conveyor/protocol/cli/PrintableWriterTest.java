package dev.conveyor.protocol.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class PrintableWriterTest {

  private static String printed(String text) {
    StringWriter sink = new StringWriter();
    try (PrintWriter out = PrintableWriter.around(new PrintWriter(sink), false)) {
      out.print(text);
    }
    return sink.toString();
  }

  @Test
  void controlCharactersAreWrittenAsEscapesAndTheRestUnchanged() {
    assertEquals(
        "plain text, ünïcødé, 任务, emoji \uD83D\uDE80",
        printed("plain text, ünïcødé, 任务, emoji \uD83D\uDE80"));
    // A task id that would clear the screen and retitle the terminal.
    assertEquals(
        "evil\\u001b[2J\\u001b]0;pwned\\u0007 id", printed("evil\u001b[2J\u001b]0;pwned\u0007 id"));
    assertEquals("a\\rb\\tc\\u0000d\\u007fe\\u009bf", printed("a\rb\tc\u0000d\u007fe\u009bf"));
    // Bidirectional overrides reorder what is shown ("Trojan Source").
    assertEquals("x\\u202ey\\u2066z\\u200f", printed("x\u202ey\u2066z\u200f"));
  }

  @Test
  void lineBreaksStayAndPrintlnStillEndsALine() {
    StringWriter sink = new StringWriter();
    PrintWriter out = PrintableWriter.around(new PrintWriter(sink), true);
    out.println("one\u001b");
    out.print('\u001b');
    out.print("two\nthree");
    out.flush();
    assertEquals("one\\u001b" + System.lineSeparator() + "\\u001btwo\nthree", sink.toString());
  }

  @Test
  void unescapedIsTheWriterBehindTheFilterAndAnyOtherWriterItself() {
    PrintWriter raw = new PrintWriter(new StringWriter());
    assertSame(raw, PrintableWriter.unescaped(PrintableWriter.around(raw, true)));
    assertSame(raw, PrintableWriter.unescaped(raw));
  }
}
