package dev.conveyor.protocol.wire;

import static org.assertj.core.api.Assertions.assertThatCode;

import org.junit.jupiter.api.Test;

class WirePrepareTest {

  /** The samples are wire text: a change to a record that breaks them must show up here. */
  @Test
  void everySampleStillDecodesAndEncodes() {
    assertThatCode(Wire::prepare).doesNotThrowAnyException();
  }
}
