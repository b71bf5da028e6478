package dev.conveyor.worker.control;

import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Headers;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * With a control key, only signed, fresh commands are obeyed (docs/design.md); without one, every
 * well-formed command is.
 */
public final class CommandVerifier {

  /** Older signed commands are refused, so a captured one cannot be replayed later. */
  public static final Duration MAX_AGE = Duration.ofSeconds(60);

  private final Optional<ControlSigner> signer;

  public CommandVerifier(Optional<ControlSigner> signer) {
    this.signer = signer;
  }

  /** Whether a message workers write for each other (a control log checkpoint) may be trusted. */
  public boolean authentic(byte[] body, Map<String, Object> headers) {
    return signer.isEmpty()
        || signer.get().verify(body, headers == null ? null : headers.get(Headers.SIGNATURE));
  }

  /** The signature for a message workers write for each other; empty without a control key. */
  public Optional<String> signature(byte[] body) {
    return signer.map(s -> s.sign(body));
  }

  /**
   * @param live false for commands replayed from the control log, which are old by nature
   * @return why the command must be dropped, or empty to obey it
   */
  public Optional<String> refusal(
      byte[] body, Map<String, Object> headers, ControlMessage message, boolean live) {
    if (signer.isEmpty()) {
      return Optional.empty();
    }
    Object signature = headers == null ? null : headers.get(Headers.SIGNATURE);
    if (signature == null) {
      return Optional.of("unsigned");
    }
    if (!signer.get().verify(body, signature)) {
      return Optional.of("bad signature");
    }
    if (live) {
      Instant issued = message.issuedAt();
      if (issued == null) {
        return Optional.of("no issuedAt");
      }
      Duration age = Duration.between(issued, Instant.now()).abs();
      if (age.compareTo(MAX_AGE) > 0) {
        return Optional.of("stale (issued " + age.toSeconds() + " s ago)");
      }
    }
    return Optional.empty();
  }
}
