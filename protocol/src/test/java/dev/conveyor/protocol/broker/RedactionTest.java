package dev.conveyor.protocol.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Passwords never appear in logs or output (docs/design.md). */
class RedactionTest {

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "amqp://guest:guest@localhost:5672/ | amqp://guest:****@localhost:5672/",
        "amqps://user:s3cr%40t@broker.example.com/vh | amqps://user:****@broker.example.com/vh",
        "amqp://:onlypass@host/ | amqp://:****@host/",
        "amqp://user@host/ | amqp://user@host/",
        "amqp://host:5672/ | amqp://host:5672/",
        "failed: amqp://a:x@h1/ then amqps://b:y@h2/ | failed: amqp://a:****@h1/ then amqps://b:****@h2/",
        "no uri here | no uri here",
        "http://u:secret@host/ | http://u:****@host/",
      })
  void masksThePasswordOfEveryUri(String text, String expected) {
    assertEquals(expected, Redaction.mask(text));
  }

  @Test
  void nullStaysNull() {
    assertNull(Redaction.mask(null));
  }
}
