package dev.conveyor.protocol;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HMAC-SHA256 over a control message body (docs/design.md): with a shared key, only key holders can
 * stop or kill tasks.
 */
public final class ControlSigner {

  /** The largest key file read, in bytes. */
  static final int MAX_KEY_FILE = 64 * 1024;

  private final SecretKeySpec key;

  public ControlSigner(byte[] secret) {
    if (secret.length == 0) {
      throw new IllegalArgumentException("control key is empty");
    }
    this.key = new SecretKeySpec(secret, "HmacSHA256");
  }

  /**
   * Reads the key from the file every program takes ({@code --control-key-file}), so that a missing
   * or unreadable one is the same usage error (exit 2) for the worker and for control.
   *
   * @throws UsageException when the file cannot be read
   * @throws IllegalArgumentException when it holds no key (also a usage error to the programs)
   */
  public static ControlSigner fromFile(Path file) {
    String text;
    try (InputStream in = Files.newInputStream(file)) {
      // Bounded: a path such as /dev/zero, read whole, ran the JVM out of memory.
      byte[] bytes = in.readNBytes(MAX_KEY_FILE + 1);
      if (bytes.length > MAX_KEY_FILE) {
        throw new UsageException(
            "control key file "
                + file
                + " is over "
                + MAX_KEY_FILE / 1024
                + " KiB: it holds one key, a line of text such as `openssl rand -hex 32` prints");
      }
      text = new String(bytes, StandardCharsets.UTF_8).strip();
    } catch (NoSuchFileException e) {
      throw new UsageException("cannot read control key file " + file + ": no such file");
    } catch (IOException e) {
      throw new UsageException("cannot read control key file " + file + ": " + e.getMessage());
    }
    return new ControlSigner(text.getBytes(StandardCharsets.UTF_8));
  }

  public String sign(byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      return HexFormat.of().formatHex(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  public boolean verify(byte[] body, Object signature) {
    if (signature == null) {
      return false;
    }
    byte[] expected = sign(body).getBytes(StandardCharsets.US_ASCII);
    byte[] given = signature.toString().getBytes(StandardCharsets.US_ASCII);
    return MessageDigest.isEqual(expected, given);
  }
}
