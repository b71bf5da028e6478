package dev.conveyor.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The exit codes are a contract with scripts and supervisors (docs/design.md; bin/workers). */
class ExitCodesTest {

  @Test
  void areTheDocumentedNumbers() {
    assertEquals(0, ExitCodes.OK);
    assertEquals(1, ExitCodes.FAILURE);
    assertEquals(2, ExitCodes.USAGE);
    assertEquals(3, ExitCodes.BROKER_UNREACHABLE);
    assertEquals(70, ExitCodes.STUCK_TASK);
  }
}
