package dev.conveyor.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HMAC-SHA256 signatures of control messages (docs/design.md, Security). */
class ControlSignerTest {

  private static final byte[] BODY =
      "{\"id\":\"c\",\"command\":\"kill\",\"target\":{\"all\":true}}"
          .getBytes(StandardCharsets.UTF_8);

  private static ControlSigner signer(String key) {
    return new ControlSigner(key.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void matchesTheRfc4231TestVector() {
    // RFC 4231, test case 2.
    String mac =
        signer("Jefe").sign("what do ya want for nothing?".getBytes(StandardCharsets.US_ASCII));

    assertEquals("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", mac);
  }

  @Test
  void verifiesItsOwnSignature() {
    ControlSigner s = signer("k3y");

    assertTrue(s.verify(BODY, s.sign(BODY)));
    assertEquals(s.sign(BODY), signer("k3y").sign(BODY), "deterministic");
  }

  @Test
  void aTamperedBodyFails() {
    ControlSigner s = signer("k3y");
    String sig = s.sign(BODY);
    byte[] tampered = BODY.clone();
    tampered[tampered.length - 3] = 'X';

    assertFalse(s.verify(tampered, sig));
  }

  @Test
  void aTamperedOrForeignSignatureFails() {
    ControlSigner s = signer("k3y");
    String sig = s.sign(BODY);
    String flipped = (sig.charAt(0) == '0' ? "1" : "0") + sig.substring(1);

    assertFalse(s.verify(BODY, flipped));
    assertFalse(s.verify(BODY, sig.substring(1)));
    assertFalse(s.verify(BODY, ""));
    assertFalse(s.verify(BODY, signer("other").sign(BODY)));
  }

  @Test
  void aMissingSignatureFails() {
    assertFalse(signer("k3y").verify(BODY, null));
  }

  @Test
  void acceptsTheSignatureAsAnAmqpHeaderValue() {
    // amqp-client hands string headers over as LongString, not String.
    ControlSigner s = signer("k3y");
    Object header = com.rabbitmq.client.impl.LongStringHelper.asLongString(s.sign(BODY));

    assertTrue(s.verify(BODY, header));
  }

  @Test
  void anEmptyKeyIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> new ControlSigner(new byte[0]));
  }

  @Test
  void aKeyFileIsReadWithoutItsTrailingNewline(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("control.key");
    Files.writeString(file, "k3y\n");

    assertEquals(signer("k3y").sign(BODY), ControlSigner.fromFile(file).sign(BODY));
  }

  @Test
  void anEmptyKeyFileIsRefused(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("empty.key");
    Files.writeString(file, "  \n");

    assertThrows(IllegalArgumentException.class, () -> ControlSigner.fromFile(file));
  }

  @Test
  void aMissingKeyFileIsAUsageErrorNamingTheFile(@TempDir Path dir) {
    Path file = dir.resolve("missing.key");

    UsageException e = assertThrows(UsageException.class, () -> ControlSigner.fromFile(file));
    assertEquals("cannot read control key file " + file + ": no such file", e.getMessage());
  }

  @Test
  void anUnreadableKeyFileIsAUsageError(@TempDir Path dir) {
    // A directory cannot be read as a file, whoever runs the test (root reads any mode).
    UsageException e = assertThrows(UsageException.class, () -> ControlSigner.fromFile(dir));
    assertTrue(e.getMessage().startsWith("cannot read control key file " + dir), e.getMessage());
  }

  /** Read whole, /dev/zero ran the program out of memory (a stack trace, exit 1). */
  @Test
  void aKeyFileOverItsLimitIsAUsageError(@TempDir Path dir) throws Exception {
    Path fits = dir.resolve("fits.key");
    Files.writeString(fits, "k".repeat(ControlSigner.MAX_KEY_FILE - 1) + "\n");
    assertEquals(
        signer("k".repeat(ControlSigner.MAX_KEY_FILE - 1)).sign(BODY),
        ControlSigner.fromFile(fits).sign(BODY));

    Path big = dir.resolve("big.key");
    Files.writeString(big, "k".repeat(ControlSigner.MAX_KEY_FILE + 1));
    UsageException e = assertThrows(UsageException.class, () -> ControlSigner.fromFile(big));
    assertEquals(
        "control key file "
            + big
            + " is over 64 KiB: it holds one key, a line of text such as `openssl rand -hex 32`"
            + " prints",
        e.getMessage());
  }
}
