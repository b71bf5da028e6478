package dev.conveyor.protocol.broker;

import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Supplier;
import picocli.CommandLine.Help.Visibility;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * The connection flags every program shares; flags override the environment. Annotated commands mix
 * this class in; a command built without annotations adds the same flags with {@link #addTo}.
 */
public class BrokerOptions {

  private static final String URI_LABEL = "URI[,URI…]";
  private static final String URI_DEFAULT =
      "${env:CONVEYOR_URI:-" + BrokerSettings.DEFAULT_URI + "}";
  private static final String URI_HELP =
      "Broker URI(s), comma-separated for failover; env CONVEYOR_URI.";
  private static final String NAMESPACE_LABEL = "NS";
  private static final String NAMESPACE_DEFAULT =
      "${env:CONVEYOR_NAMESPACE:-" + BrokerSettings.DEFAULT_NAMESPACE + "}";
  private static final String NAMESPACE_HELP =
      "Prefix of every broker name (default: ${DEFAULT-VALUE}); env CONVEYOR_NAMESPACE.";
  private static final String KEY_LABEL = "FILE";
  private static final String KEY_DEFAULT = "${env:CONVEYOR_CONTROL_KEY}";
  private static final String KEY_HELP =
      "Sign and verify control messages with this key; env CONVEYOR_CONTROL_KEY.";

  @Option(
      names = "--uri",
      paramLabel = URI_LABEL,
      defaultValue = URI_DEFAULT,
      description = URI_HELP,
      showDefaultValue = Visibility.NEVER)
  String uri;

  @Option(
      names = "--namespace",
      paramLabel = NAMESPACE_LABEL,
      defaultValue = NAMESPACE_DEFAULT,
      description = NAMESPACE_HELP)
  String namespace;

  @Option(
      names = "--control-key-file",
      paramLabel = KEY_LABEL,
      defaultValue = KEY_DEFAULT,
      description = KEY_HELP)
  Path controlKeyFile;

  /**
   * @throws IllegalArgumentException with a one-line message for a bad URI or namespace
   */
  public BrokerSettings settings() {
    return settings(uri, namespace, controlKeyFile);
  }

  /**
   * Adds the same three flags to {@code spec}, a command built without annotations (picocli reads
   * annotations through reflection, which a program's start pays for). The supplier gives the
   * settings once {@code spec} has parsed its arguments.
   */
  public static Supplier<BrokerSettings> addTo(CommandSpec spec) {
    OptionSpec uri =
        add(spec, "--uri", URI_LABEL, URI_DEFAULT, URI_HELP, String.class, Visibility.NEVER);
    OptionSpec namespace =
        add(
            spec,
            "--namespace",
            NAMESPACE_LABEL,
            NAMESPACE_DEFAULT,
            NAMESPACE_HELP,
            String.class,
            Visibility.ON_DEMAND);
    OptionSpec key =
        add(
            spec,
            "--control-key-file",
            KEY_LABEL,
            KEY_DEFAULT,
            KEY_HELP,
            Path.class,
            Visibility.ON_DEMAND);
    return () -> settings(uri.getValue(), namespace.getValue(), key.getValue());
  }

  private static OptionSpec add(
      CommandSpec spec,
      String name,
      String label,
      String defaultValue,
      String help,
      Class<?> type,
      Visibility shown) {
    OptionSpec option =
        OptionSpec.builder(name)
            .paramLabel(label)
            .defaultValue(defaultValue)
            .description(help)
            .showDefaultValue(shown)
            .type(type)
            .build();
    spec.addOption(option);
    return option;
  }

  private static BrokerSettings settings(String uri, String namespace, Path controlKeyFile) {
    return new BrokerSettings(
        BrokerSettings.parseUris(uri), namespace, Optional.ofNullable(controlKeyFile));
  }
}
