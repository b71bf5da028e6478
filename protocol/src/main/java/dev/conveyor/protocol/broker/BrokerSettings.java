package dev.conveyor.protocol.broker;

import dev.conveyor.protocol.topology.Names;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The broker and the namespace to use (docs/design.md). Built from flags that default to the
 * environment; immutable.
 */
public record BrokerSettings(List<URI> uris, String namespace, Optional<Path> controlKeyFile) {

  public static final String DEFAULT_URI = "amqp://guest:guest@localhost:5672/";
  public static final String DEFAULT_NAMESPACE = "conveyor";

  public BrokerSettings {
    if (uris.isEmpty()) {
      throw new IllegalArgumentException("no broker URI given");
    }
    uris = List.copyOf(uris);
    new Names(namespace);
  }

  public Names names() {
    return new Names(namespace);
  }

  /** Parses a comma-separated list of amqp:// or amqps:// URIs (failover order). */
  public static List<URI> parseUris(String commaSeparated) {
    List<URI> out = new ArrayList<>();
    for (String part : commaSeparated.split(",")) {
      String s = part.trim();
      if (s.isEmpty()) {
        continue;
      }
      URI uri;
      try {
        uri = new URI(s);
      } catch (URISyntaxException e) {
        throw new IllegalArgumentException("invalid broker URI: " + Redaction.mask(s));
      }
      if (!"amqp".equals(uri.getScheme()) && !"amqps".equals(uri.getScheme())) {
        throw new IllegalArgumentException(
            "broker URI must start with amqp:// or amqps://: " + Redaction.mask(s));
      }
      if (uri.getHost() == null) {
        throw new IllegalArgumentException("broker URI has no host: " + Redaction.mask(s));
      }
      out.add(uri);
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no broker URI given");
    }
    return out;
  }

  /** The URIs as they may be shown to people: passwords replaced. */
  public String describe() {
    return String.join(",", uris.stream().map(u -> Redaction.mask(u.toString())).toList());
  }
}
