package dev.conveyor.worker.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Entries of the control log that are not honoured are said and counted, never dropped silently.
 */
class ControlLogReplayTest {

  private final List<String> refused = new CopyOnWriteArrayList<>();
  private final Revocations revocations = new Revocations();

  private ControlLogReplay replay(CommandVerifier verifier) {
    return new ControlLogReplay(null, null, revocations, verifier, refused::add);
  }

  private static byte[] stop(String task) {
    return ("{\"id\":\"c1\",\"command\":\"stop\",\"target\":{\"tasks\":[\""
            + task
            + "\"]},\"issuedAt\":\""
            + java.time.Instant.now()
            + "\",\"issuedBy\":\"me@host\"}")
        .getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aMalformedEntryIsCountedAndSkipped() {
    replay(new CommandVerifier(Optional.empty()))
        .remember("{not json".getBytes(StandardCharsets.UTF_8), Map.of());
    assertThat(refused).containsExactly("malformed");
  }

  @Test
  void anUnsignedEntryIsNotHonouredWhenAKeyIsSet() {
    CommandVerifier keyed =
        new CommandVerifier(
            Optional.of(
                new dev.conveyor.protocol.ControlSigner(
                    "secret-key-of-sixteen+".getBytes(StandardCharsets.UTF_8))));
    replay(keyed).remember(stop("t1"), Map.of());
    assertThat(refused).containsExactly("unsigned");
    assertThat(revocations.find("t1")).isEmpty();
  }

  @Test
  void aGoodEntryRevokes() {
    replay(new CommandVerifier(Optional.empty())).remember(stop("t1"), Map.of());
    assertThat(refused).isEmpty();
    assertThat(revocations.find("t1")).isPresent();
  }
}
