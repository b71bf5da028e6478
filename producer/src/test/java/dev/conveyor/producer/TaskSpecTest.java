package dev.conveyor.producer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.TaskMessage;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class TaskSpecTest {

  private static final Clock CLOCK =
      Clock.fixed(Instant.parse("2026-11-21T12:00:00.123456789Z"), ZoneOffset.UTC);
  private static final Instant NOW_MS = Instant.parse("2026-11-21T12:00:00.123Z");

  @Test
  void buildFillsIdAndCreatedAtAndLeavesUnsetLimitsOff() {
    TaskMessage t = TaskSpec.of("noop").build(CLOCK);
    assertEquals("noop", t.type());
    assertNotNull(UUID.fromString(t.id()));
    assertEquals(NOW_MS, t.createdAt());
    assertNull(t.payload());
    assertNull(t.timeoutMs());
    assertNull(t.graceMs());
    assertNull(t.maxAttempts());
    assertNull(t.expiresAt());
  }

  @Test
  void everySettingReachesTheMessage() {
    TaskMessage t =
        TaskSpec.of("sleep")
            .id("t-1")
            .payload(Map.of("seconds", 2))
            .timeout(Duration.ofSeconds(30))
            .grace(Duration.ofMillis(1500))
            .maxAttempts(3)
            .expiresIn(Duration.ofMinutes(10))
            .build(CLOCK);
    assertEquals("t-1", t.id());
    assertEquals(2, t.payload().get("seconds").asInt());
    assertEquals(30_000L, t.timeoutMs());
    assertEquals(1_500L, t.graceMs());
    assertEquals(3, t.maxAttempts());
    assertEquals(NOW_MS.plus(Duration.ofMinutes(10)), t.expiresAt());
  }

  @Test
  void aSpecIsATemplateWithAFreshIdPerBuild() {
    TaskSpec spec = TaskSpec.of("noop");
    assertNotEquals(spec.build(CLOCK).id(), spec.build(CLOCK).id());
    spec.id("fixed");
    assertEquals("fixed", spec.build(CLOCK).id());
  }

  @Test
  void expiresAtAndExpiresInReplaceEachOther() {
    Instant at = Instant.parse("2030-01-01T00:00:00Z");
    assertEquals(
        at,
        TaskSpec.of("x").expiresIn(Duration.ofMinutes(1)).expiresAt(at).build(CLOCK).expiresAt());
    assertEquals(
        NOW_MS.plusSeconds(60),
        TaskSpec.of("x").expiresAt(at).expiresIn(Duration.ofMinutes(1)).build(CLOCK).expiresAt());
  }

  @Test
  void rejectsWhatAWorkerWouldReject() {
    assertThrows(IllegalArgumentException.class, () -> TaskSpec.of(" "));
    assertThrows(IllegalArgumentException.class, () -> TaskSpec.of(null));
    assertThrows(IllegalArgumentException.class, () -> TaskSpec.of("x").id(""));
    assertThrows(IllegalArgumentException.class, () -> TaskSpec.of("x").timeout(Duration.ZERO));
    assertThrows(
        IllegalArgumentException.class, () -> TaskSpec.of("x").grace(Duration.ofSeconds(-1)));
    assertThrows(IllegalArgumentException.class, () -> TaskSpec.of("x").maxAttempts(0));
    assertThrows(IllegalArgumentException.class, () -> TaskSpec.of("x").expiresIn(Duration.ZERO));
  }

  @Test
  void completeFillsOnlyWhatIsMissing() {
    TaskMessage bare = new TaskMessage(null, "noop", null, null, null, null, null, null);
    TaskMessage done = TaskPublisher.complete(bare, CLOCK);
    assertNotNull(UUID.fromString(done.id()));
    assertEquals(NOW_MS, done.createdAt());

    TaskMessage full =
        new TaskMessage("a", "noop", null, 5L, 0L, 2, null, Instant.parse("2020-01-01T00:00:00Z"));
    assertSame(full, TaskPublisher.complete(full, CLOCK));

    TaskMessage blankId = new TaskMessage(" ", "noop", null, null, null, null, null, NOW_MS);
    assertNotEquals(" ", TaskPublisher.complete(blankId, CLOCK).id());
  }

  @Test
  void completeRejectsInvalidTasks() {
    assertThrows(
        IllegalArgumentException.class,
        () ->
            TaskPublisher.complete(new TaskMessage("a", null, null, null, null, null, null, null)));
    assertThrows(
        IllegalArgumentException.class,
        () -> TaskPublisher.complete(new TaskMessage("a", "x", null, 0L, null, null, null, null)));
    assertThrows(
        IllegalArgumentException.class,
        () -> TaskPublisher.complete(new TaskMessage("a", "x", null, null, -1L, null, null, null)));
    assertThrows(
        IllegalArgumentException.class,
        () -> TaskPublisher.complete(new TaskMessage("a", "x", null, null, null, 0, null, null)));
  }

  /**
   * The id and the type are also AMQP short strings: amqp-client refused a longer one only as the
   * message was written, after the tasks before it, with "Short string too long".
   */
  @Test
  void completeRejectsAnIdOrTypeLongerThanAnAmqpShortString() {
    String fits = "é".repeat(127) + "x"; // 255 bytes in UTF-8
    assertEquals(
        fits,
        TaskPublisher.complete(new TaskMessage(fits, fits, null, null, null, null, null, NOW_MS))
            .id());
    IllegalArgumentException id =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                TaskPublisher.complete(
                    new TaskMessage(fits + "y", "noop", null, null, null, null, null, null)));
    assertEquals(
        "id is 256 bytes long in UTF-8, at most 255: it is also the message's AMQP message-id",
        id.getMessage());
    IllegalArgumentException type =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                TaskPublisher.complete(
                    new TaskMessage("a", "t".repeat(300), null, null, null, null, null, null)));
    assertEquals(
        "type is 300 bytes long in UTF-8, at most 255: it is also the message's AMQP type",
        type.getMessage());
  }

  @Test
  void messagePropertiesFollowTheWireFormat() {
    TaskMessage t = TaskSpec.of("sleep").id("t-9").build(CLOCK);
    AMQP.BasicProperties p = TaskPublisher.properties(t);
    assertEquals("t-9", p.getMessageId());
    assertEquals("application/json", p.getContentType());
    assertEquals(2, p.getDeliveryMode());
    assertEquals("sleep", p.getType());
  }
}
