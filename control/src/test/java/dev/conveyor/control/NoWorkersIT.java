package dev.conveyor.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.TestBroker;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** What control says, and how fast, when no worker is running. */
@ExtendWith(BrokerExtension.class)
class NoWorkersIT {

  /** The namespace exists, as after any worker or producer ran; only no worker is live. */
  @BeforeEach
  void namespace(TestBroker broker) {
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          return null;
        });
  }

  @Test
  void statusSaysNoLiveWorkers(TestBroker broker) {
    Control.Result r = Control.run(broker, "status");
    assertEquals(0, r.exit(), r::toString);
    assertEquals("no live workers\n", r.out());

    Control.Result json = Control.run(broker, "status", "--json", "--timeout", "200ms");
    assertEquals(0, json.exit(), json::toString);
    assertEquals("[]\n", json.out());
  }

  /**
   * A worker counted as hearing commands (a consumer of {@code ns.workers}) that does not answer,
   * as one no longer bound to the control exchange would not: {@code status} and {@code stop} say
   * so, where they said there was no live worker.
   */
  @Test
  void aCountedWorkerThatDoesNotAnswerIsReported(TestBroker broker) throws Exception {
    try (Channel counted = broker.connection().createChannel()) {
      counted.basicConsume(
          broker.topology().declareWorkers(counted), true, new DefaultConsumer(counted));

      Control.Result status = Control.run(broker, "status", "--timeout", "300ms");
      assertEquals(0, status.exit(), status::toString);
      assertTrue(
          status.err().contains("1 more worker(s) hear commands, by the broker's count (1)"),
          status::toString);

      Control.Result stop = Control.run(broker, "stop", "--all", "--discover-timeout", "300ms");
      assertEquals(0, stop.exit(), stop::toString);
      assertTrue(
          stop.out().contains("1 more worker(s) hear commands, by the broker's count, but did not"),
          stop::toString);
    }
  }

  @Test
  void statusForANamedWorkerThatIsNotThereFails(TestBroker broker) {
    Control.Result r = Control.run(broker, "status", "--worker", "ghost", "--timeout", "200ms");
    assertEquals(1, r.exit(), r::toString);
    assertTrue(r.err().contains("no answer from ghost"), r::toString);
  }

  @Test
  void stopStillPublishesAndSaysNoWorkerAnswered(TestBroker broker) {
    Control.Result r = Control.run(broker, "stop", "--all", "--discover-timeout", "300ms");
    assertEquals(0, r.exit(), r::toString);
    assertTrue(r.out().startsWith("no live workers answered; stop "), r::toString);
  }

  @Test
  void killOfAQueuedTaskReportsItRevoked(TestBroker broker) throws Exception {
    Control.Result r =
        Control.run(broker, "kill", "--task", "t-1", "t-2", "--discover-timeout", "300ms");
    assertEquals(0, r.exit(), r::toString);
    assertTrue(
        r.out().contains("t-1: not running; revoked, will be cancelled when it arrives"),
        r::toString);
    assertTrue(r.out().contains("t-2: not running; revoked"), r::toString);

    Control.Result json =
        Control.run(broker, "kill", "--task", "t-3", "--json", "--discover-timeout", "300ms");
    assertEquals(0, json.exit(), json::toString);
    JsonNode doc = Wire.JSON.readTree(json.out());
    assertEquals("kill", doc.get("verb").asText());
    assertEquals("t-3", doc.get("revoked").get(0).asText());
    assertTrue(doc.get("ok").asBoolean());
  }

  @Test
  void aStopForANamedWorkerThatIsNotThereFails(TestBroker broker) {
    Control.Result r =
        Control.run(broker, "stop", "--worker", "ghost", "--discover-timeout", "300ms");
    assertEquals(1, r.exit(), r::toString);
    assertTrue(r.out().contains("ghost: did not answer"), r::toString);
    assertTrue(r.err().contains("no answer from ghost"), r::toString);
  }

  @Test
  void pauseAndResumeWithoutWorkersSucceed(TestBroker broker) {
    for (String verb : new String[] {"pause", "resume"}) {
      Control.Result r = Control.run(broker, verb, "--discover-timeout", "300ms");
      assertEquals(0, r.exit(), r::toString);
      assertTrue(r.out().startsWith("no live workers answered; " + verb), r::toString);
    }
  }
}
