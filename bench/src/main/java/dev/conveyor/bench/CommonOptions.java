package dev.conveyor.bench;

import java.net.URI;
import picocli.CommandLine.Option;

/** Options every benchmark takes. */
final class CommonOptions {

  @Option(
      names = "--uri",
      defaultValue = "amqp://guest:guest@127.0.0.1:5672/",
      description = "The broker; loopback addresses only (default: 127.0.0.1:5672, guest).",
      showDefaultValue = picocli.CommandLine.Help.Visibility.NEVER)
  URI uri;

  @Option(names = "--json", description = "Print the results as one JSON object.")
  boolean json;
}
