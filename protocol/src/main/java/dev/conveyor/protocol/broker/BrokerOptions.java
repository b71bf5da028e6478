package dev.conveyor.protocol.broker;

import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The connection flags every program shares; flags override the environment. */
public class BrokerOptions {

  @Option(
      names = "--uri",
      paramLabel = "URI[,URI…]",
      defaultValue = "${env:CONVEYOR_URI:-" + BrokerSettings.DEFAULT_URI + "}",
      description = "Broker URI(s), comma-separated for failover; env CONVEYOR_URI.",
      showDefaultValue = picocli.CommandLine.Help.Visibility.NEVER)
  String uri;

  @Option(
      names = "--namespace",
      paramLabel = "NS",
      defaultValue = "${env:CONVEYOR_NAMESPACE:-" + BrokerSettings.DEFAULT_NAMESPACE + "}",
      description =
          "Prefix of every broker name (default: ${DEFAULT-VALUE}); env CONVEYOR_NAMESPACE.")
  String namespace;

  @Option(
      names = "--control-key-file",
      paramLabel = "FILE",
      defaultValue = "${env:CONVEYOR_CONTROL_KEY}",
      description = "Sign and verify control messages with this key; env CONVEYOR_CONTROL_KEY.")
  Path controlKeyFile;

  /**
   * @throws IllegalArgumentException with a one-line message for a bad URI or namespace
   */
  public BrokerSettings settings() {
    return new BrokerSettings(
        BrokerSettings.parseUris(uri), namespace, Optional.ofNullable(controlKeyFile));
  }
}
