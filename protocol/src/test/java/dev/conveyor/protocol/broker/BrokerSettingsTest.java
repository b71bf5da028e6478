package dev.conveyor.protocol.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Broker URIs and namespace (docs/design.md, Configuration). */
class BrokerSettingsTest {

  @Test
  void theDefaultUriParses() {
    List<URI> uris = BrokerSettings.parseUris(BrokerSettings.DEFAULT_URI);

    assertEquals(1, uris.size());
    assertEquals("localhost", uris.getFirst().getHost());
    assertEquals(5672, uris.getFirst().getPort());
  }

  @Test
  void severalUrisAreKeptInFailoverOrder() {
    List<URI> uris =
        BrokerSettings.parseUris(
            " amqp://u:p@one:5672/ , amqps://u:p@two.example.com:5671/vh,,amqp://three ");

    assertEquals(
        List.of("one", "two.example.com", "three"), uris.stream().map(URI::getHost).toList());
    assertEquals("amqps", uris.get(1).getScheme());
    assertEquals(5671, uris.get(1).getPort());
    assertEquals("/vh", uris.get(1).getPath());
    assertEquals(-1, uris.get(2).getPort());
  }

  @ParameterizedTest
  @ValueSource(strings = {"http://u:secret@host/", "ampq://u:secret@host/", "host:5672"})
  void aSchemeOtherThanAmqpIsRefusedWithoutShowingThePassword(String uri) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> BrokerSettings.parseUris(uri));

    assertTrue(e.getMessage().contains("amqp:// or amqps://"), e.getMessage());
    assertFalse(e.getMessage().contains("secret"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"amqp:///vhost", "amqp://u:secret@/"})
  void aUriWithoutHostIsRefused(String uri) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> BrokerSettings.parseUris(uri));

    assertTrue(e.getMessage().contains("no host"), e.getMessage());
    assertFalse(e.getMessage().contains("secret"), e.getMessage());
  }

  @Test
  void aSyntacticallyInvalidUriIsRefusedWithoutShowingThePassword() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> BrokerSettings.parseUris("amqp://u:secret@host/a b|c"));

    assertTrue(e.getMessage().startsWith("invalid broker URI"), e.getMessage());
    assertFalse(e.getMessage().contains("secret"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", ",", " , ,"})
  void noUriIsRefused(String uris) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> BrokerSettings.parseUris(uris));

    assertEquals("no broker URI given", e.getMessage());
  }

  @Test
  void describeMasksEveryPassword() {
    BrokerSettings settings =
        new BrokerSettings(
            BrokerSettings.parseUris("amqp://a:pw1@one/,amqps://b:pw2@two/"),
            "conveyor",
            Optional.empty());

    assertEquals("amqp://a:****@one/,amqps://b:****@two/", settings.describe());
  }

  @Test
  void theNamespaceIsValidated() {
    List<URI> uris = BrokerSettings.parseUris(BrokerSettings.DEFAULT_URI);

    assertEquals(
        "ns.tasks", new BrokerSettings(uris, "ns", Optional.empty()).names().tasksExchange());
    assertThrows(
        IllegalArgumentException.class, () -> new BrokerSettings(uris, "a b", Optional.empty()));
    assertThrows(
        IllegalArgumentException.class,
        () -> new BrokerSettings(List.of(), "ns", Optional.empty()));
  }
}
