package dev.conveyor.protocol.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

/** The names on the broker (docs/design.md). */
class NamesTest {

  @Test
  void everyNameDerivesFromTheNamespace() {
    Names n = new Names("conveyor");

    assertEquals("conveyor.tasks", n.tasksExchange());
    assertEquals("conveyor.q.default", n.taskQueue("default"));
    assertEquals("conveyor.dead", n.deadExchange());
    assertEquals("conveyor.dead", n.deadQueue());
    assertEquals("conveyor.control", n.controlExchange());
    assertEquals("conveyor.events", n.eventsExchange());
    assertEquals("conveyor.control.log", n.controlLog());
    assertEquals("conveyor.control.logged", n.controlLogged());
    assertEquals("conveyor.retry.mail", n.retryQueue("mail"));
    assertEquals("conveyor.worker.host-42", n.workerName("host-42"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"conveyor", "a", "team-1.prod_eu", "A.B-C_9"})
  void acceptsValidNamespaces(String ns) {
    assertEquals(ns, new Names(ns).namespace());
  }

  @ParameterizedTest
  @NullAndEmptySource
  @ValueSource(strings = {"a b", "a/b", "ns#", "é", " conveyor"})
  void refusesInvalidNamespaces(String ns) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Names(ns));

    assertEquals(
        "namespace must be 1-100 characters of letters, digits, '.', '_' or '-': " + ns,
        e.getMessage());
  }

  @Test
  void namespacesAreAtMost100Characters() {
    new Names("n".repeat(100));

    assertThrows(IllegalArgumentException.class, () -> new Names("n".repeat(101)));
  }

  @ParameterizedTest
  @NullAndEmptySource
  @ValueSource(strings = {"a b", "q/1", "mail*", "#"})
  void refusesInvalidQueueNames(String queue) {
    assertThrows(IllegalArgumentException.class, () -> Names.checkQueueName(queue));
    assertThrows(IllegalArgumentException.class, () -> new Names("ns").taskQueue(queue));
  }

  @Test
  void acceptsValidQueueNames() {
    assertEquals("mail.high-prio_2", Names.checkQueueName("mail.high-prio_2"));
  }

  @org.junit.jupiter.api.Test
  void theTaskQueueBehindABrokerQueueName() {
    Names n = new Names("ns");
    org.junit.jupiter.api.Assertions.assertEquals(
        java.util.Optional.of("default"), n.queueOf("ns.q.default"));
    org.junit.jupiter.api.Assertions.assertEquals(
        java.util.Optional.of("mail"), n.queueOf("ns.retry.mail"));
    org.junit.jupiter.api.Assertions.assertEquals(java.util.Optional.empty(), n.queueOf("ns.dead"));
    org.junit.jupiter.api.Assertions.assertEquals(java.util.Optional.empty(), n.queueOf("ns.q."));
    org.junit.jupiter.api.Assertions.assertEquals(java.util.Optional.empty(), n.queueOf(null));
  }
}
