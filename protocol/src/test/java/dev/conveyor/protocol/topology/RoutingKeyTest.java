package dev.conveyor.protocol.topology;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which commands the control log keeps: only those that revoke tasks, which a worker that starts
 * later must still honour (docs/protocol.md).
 */
class RoutingKeyTest {

  private static String key(Command command, Target target, boolean requeue) {
    return Topology.routingKey(
        new ControlMessage("c1", command, target, requeue, Instant.EPOCH, "test@host"));
  }

  private static final Target TASKS = new Target.Tasks(List.of("t-1"));

  @Test
  void aStopOrKillOfNamedTasksIsLogged() {
    assertThat(key(Command.STOP, TASKS, false)).isEqualTo(Topology.LOGGED_KEY);
    assertThat(key(Command.KILL, TASKS, false)).isEqualTo(Topology.LOGGED_KEY);
  }

  @Test
  void whatActsOnlyOnLiveWorkersIsNotLogged() {
    assertThat(key(Command.STOP, TASKS, true)).as("requeued").isEqualTo(Topology.LIVE_KEY);
    assertThat(key(Command.KILL, TASKS, true)).as("requeued").isEqualTo(Topology.LIVE_KEY);
    assertThat(key(Command.STOP, Target.all(), false)).isEqualTo(Topology.LIVE_KEY);
    assertThat(key(Command.KILL, Target.all(), false)).isEqualTo(Topology.LIVE_KEY);
    assertThat(key(Command.KILL, new Target.Workers(List.of("w1")), false))
        .isEqualTo(Topology.LIVE_KEY);
    assertThat(key(Command.STOP, new Target.Types(List.of("sleep")), false))
        .isEqualTo(Topology.LIVE_KEY);
    assertThat(key(Command.PAUSE, Target.all(), false)).isEqualTo(Topology.LIVE_KEY);
    assertThat(key(Command.RESUME, Target.all(), false)).isEqualTo(Topology.LIVE_KEY);
    assertThat(key(Command.STOP, null, false)).as("no target: all").isEqualTo(Topology.LIVE_KEY);
  }

  @Test
  void aStatusRoundHasItsOwnKey() {
    assertThat(key(Command.STATUS, Target.all(), false)).isEqualTo(Topology.STATUS_KEY);
    assertThat(Topology.STATUS_KEY).isNotEqualTo(Topology.LOGGED_KEY);
    assertThat(Topology.LIVE_KEY).isNotEqualTo(Topology.LOGGED_KEY);
  }
}
