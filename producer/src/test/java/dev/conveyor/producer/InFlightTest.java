package dev.conveyor.producer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.conveyor.protocol.wire.TaskMessage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class InFlightTest {

  private final List<String> drained = new ArrayList<>();

  private static TaskMessage task(long n) {
    return TaskSpec.of("noop").id("t" + n).build();
  }

  private void drain(InFlight f) {
    f.drainSettled((task, outcome) -> drained.add(task.id() + "=" + outcome));
  }

  @Test
  void aMultipleConfirmSettlesEverythingUpToItsSeqAndTheHeadIsHandedOnInOrder() {
    InFlight f = new InFlight(8);
    for (long seq = 1; seq <= 5; seq++) {
      f.add(seq, task(seq));
    }
    f.settle(3, true, InFlight.ACKED);
    assertEquals(2, f.unsettled());
    drain(f);
    assertEquals(List.of("t1=ack", "t2=ack", "t3=ack"), drained);
    assertEquals(2, f.size());
    assertFalse(f.headSettled());
  }

  @Test
  void aSingleConfirmPastTheHeadWaitsUntilTheHeadIsSettled() {
    InFlight f = new InFlight(8);
    for (long seq = 1; seq <= 4; seq++) {
      f.add(seq, task(seq));
    }
    f.settle(3, false, "nack");
    f.settle(2, false, InFlight.ACKED);
    assertFalse(f.headSettled(), "seq 1 is not settled: nothing may be handed on before it");
    drain(f);
    assertEquals(List.of(), drained);

    f.settle(1, false, InFlight.ACKED);
    drain(f);
    assertEquals(List.of("t1=ack", "t2=ack", "t3=nack"), drained);
    assertEquals(1, f.unsettled());
  }

  @Test
  void theFirstOutcomeOfATaskIsKept() {
    InFlight f = new InFlight(4);
    f.add(1, task(1));
    f.add(2, task(2));
    f.settle(1, false, "publish failed");
    f.settle(2, true, InFlight.ACKED);
    f.settleAll("channel closed");
    drain(f);
    assertEquals(List.of("t1=publish failed", "t2=ack"), drained);
    assertEquals(0, f.unsettled());
  }

  @Test
  void settleAllFailsWhatIsLeftAndConfirmsForUnknownSeqsAreIgnored() {
    InFlight f = new InFlight(4);
    f.add(10, task(10));
    f.add(11, task(11));
    f.settle(9, false, InFlight.ACKED);
    f.settle(12, false, InFlight.ACKED);
    assertEquals(2, f.unsettled());
    f.settleAll("lost");
    drain(f);
    assertEquals(List.of("t10=lost", "t11=lost"), drained);
  }

  @Test
  void theRingWrapsAndGrowsKeepingPublishOrder() {
    InFlight f = new InFlight(3);
    long seq = 1;
    List<String> expected = new ArrayList<>();
    // Wrap the ring several times, then hold more than its first capacity while wrapped.
    for (int round = 0; round < 5; round++) {
      f.add(seq, task(seq));
      f.add(seq + 1, task(seq + 1));
      f.settle(seq + 1, true, InFlight.ACKED);
      expected.add("t" + seq + "=ack");
      expected.add("t" + (seq + 1) + "=ack");
      seq += 2;
      drain(f);
    }
    for (int k = 0; k < 7; k++, seq++) {
      f.add(seq, task(seq));
      expected.add("t" + seq + "=ack");
    }
    assertEquals(7, f.size());
    f.settle(seq - 1, false, InFlight.ACKED);
    f.settle(seq - 2, true, InFlight.ACKED);
    assertTrue(f.headSettled());
    drain(f);
    assertEquals(expected, drained);
    assertEquals(0, f.size());
  }

  @Test
  void clearForgetsEverything() {
    InFlight f = new InFlight(2);
    f.add(1, task(1));
    f.add(2, task(2));
    f.settle(1, false, InFlight.ACKED);
    f.clear();
    assertEquals(0, f.size());
    assertEquals(0, f.unsettled());
    assertFalse(f.headSettled());
    f.add(3, task(3));
    f.settle(3, true, InFlight.ACKED);
    drain(f);
    assertEquals(List.of("t3=ack"), drained);
  }
}
