package dev.conveyor.worker.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CommandVerifierTest {

  private final ControlSigner signer = new ControlSigner("k".getBytes(StandardCharsets.UTF_8));
  private final CommandVerifier verifier = new CommandVerifier(Optional.of(signer));

  private static ControlMessage at(Instant issued) {
    return new ControlMessage("c1", Command.STOP, Target.all(), false, issued, "me@host");
  }

  @Test
  void withoutAKeyEverythingIsObeyed() {
    ControlMessage m = at(Instant.now());
    assertThat(new CommandVerifier(Optional.empty()).refusal(Wire.encode(m), null, m, true))
        .isEmpty();
  }

  @Test
  void refusesUnsignedForgedAndStaleCommands() {
    ControlMessage fresh = at(Instant.now());
    byte[] body = Wire.encode(fresh);
    assertThat(verifier.refusal(body, Map.of(), fresh, true)).contains("unsigned");
    assertThat(verifier.refusal(body, Map.of(Headers.SIGNATURE, "00"), fresh, true))
        .contains("bad signature");
    assertThat(verifier.refusal(body, Map.of(Headers.SIGNATURE, signer.sign(body)), fresh, true))
        .isEmpty();
    ControlMessage old = at(Instant.now().minusSeconds(61));
    byte[] oldBody = Wire.encode(old);
    assertThat(
            verifier.refusal(oldBody, Map.of(Headers.SIGNATURE, signer.sign(oldBody)), old, true))
        .hasValueSatisfying(r -> assertThat(r).startsWith("stale"));
    // Replayed from the control log, age is expected; the signature still counts.
    assertThat(
            verifier.refusal(oldBody, Map.of(Headers.SIGNATURE, signer.sign(oldBody)), old, false))
        .isEmpty();
  }

  @Test
  void revocationsExpireAfterTheirTtl() {
    Revocations r = new Revocations();
    r.revoke(List.of("a"), "me", Instant.now());
    r.revoke(List.of("b"), "me", Instant.now().minus(Revocations.TTL).minusSeconds(1));
    assertThat(r.find("a")).isPresent();
    assertThat(r.find("b")).isEmpty();
  }
}
