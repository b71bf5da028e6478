package dev.conveyor.producer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.conveyor.protocol.cli.PrintableWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ProgressLineTest {

  private final StringWriter text = new StringWriter();
  private final PrintWriter err = new PrintWriter(text);

  @Test
  void nothingIsDrawnWhenNotATerminal() {
    ProgressLine p = ProgressLine.forRun(err, 1000, false);
    p.update("published 1/1000", true);
    p.hide();
    p.finish();
    assertEquals("", text.toString());
  }

  @Test
  void nothingIsDrawnForSmallRuns() {
    ProgressLine p = ProgressLine.forRun(err, 99, true);
    p.update("published 1/99", true);
    p.finish();
    assertEquals("", text.toString());
  }

  @Test
  void onATerminalOneLineRewritesItself() {
    ProgressLine p = ProgressLine.forRun(err, 100, true);
    p.update("published 10/100", true);
    p.hide();
    p.update("published 100/100", true);
    p.finish();
    assertEquals(
        "\r\033[2Kpublished 10/100"
            + "\r\033[2K"
            + "\r\033[2Kpublished 100/100"
            + "\r\033[2Kpublished 100/100"
            + System.lineSeparator(),
        text.toString());
  }

  /** bin/producer escapes its stderr (ids, reasons); the line's own control sequence goes past. */
  @Test
  void behindAnEscapingStderrTheLineIsStillDrawnAndMessagesAreEscaped() {
    ProgressLine p = ProgressLine.forRun(PrintableWriter.around(err, true), 100, true);
    p.update("published 10/100", true);
    p.message("producer: the broker is blocking publishers (\u001b[2J); waiting");
    p.finish();
    assertEquals(
        "\r\033[2Kpublished 10/100"
            + "\r\033[2K"
            + "producer: the broker is blocking publishers (\\u001b[2J); waiting"
            + System.lineSeparator()
            + "\r\033[2Kpublished 10/100"
            + System.lineSeparator(),
        text.toString());
  }
}
