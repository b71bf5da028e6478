package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.rabbitmq.client.ShutdownSignalException;
import com.rabbitmq.client.impl.AMQImpl;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class ControlMainTest {

  @Test
  void aBrokerRefusalIsExplainedByTheBrokersReason() {
    ShutdownSignalException signal =
        new ShutdownSignalException(
            false,
            false,
            new AMQImpl.Channel.Close(406, "PRECONDITION_FAILED - inequivalent arg", 50, 10),
            null);
    Exception explained = ControlMain.explain(new IOException(null, signal));
    assertEquals(
        "the broker refused: PRECONDITION_FAILED - inequivalent arg", explained.getMessage());
  }

  @Test
  void otherFailuresAreLeftAlone() {
    IOException e = new IOException("disk full");
    assertSame(e, ControlMain.explain(e));
  }
}
