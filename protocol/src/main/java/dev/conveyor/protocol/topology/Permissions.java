package dev.conveyor.protocol.topology;

/**
 * RabbitMQ permissions (configure, write, read regexes on one vhost) for the three kinds of user
 * (README.md), derived from the namespace so that they follow the names in {@link Names}. A binding
 * needs write on the queue and read on the exchange, which is why read is never empty: every
 * program declares the topology it uses.
 */
public record Permissions(String configure, String write, String read) {

  /**
   * Publishes tasks only (and, for {@code --wait}, follows events). It cannot publish control
   * messages. Its read on {@code ns.dead} is for binding the exchange, but the queue of the same
   * name is readable too.
   */
  public static Permissions producer(Names names) {
    return new Permissions(
        names(names, "tasks|dead|control|events|q\\..+"),
        names(names, "tasks|dead|q\\..+"),
        names(names, "tasks|dead|events"));
  }

  /**
   * Publishes commands, follows events and status replies, manages dead letters. It cannot consume
   * tasks. {@code control dead replay} publishes to {@code ns.tasks}; drop {@code tasks} from write
   * for an operator who must not replay.
   */
  public static Permissions control(Names names) {
    return new Permissions(
        names(names, "tasks|dead|control|control\\.log|control\\.logged|events|q\\..+"),
        names(names, "tasks|dead|control|control\\.log|control\\.logged|q\\..+"),
        names(names, "tasks|dead|control|control\\.logged|events"));
  }

  /** Everything in the namespace, its private queues and the default exchange (replies). */
  public static Permissions worker(Names names) {
    String all = "^(" + quote(names) + "\\..+|amq\\.gen-.*)$";
    return new Permissions(all, "^(" + quote(names) + "\\..+|amq\\.gen-.*|amq\\.default)$", all);
  }

  /**
   * A regex for the names {@code ns.<one of alternatives>} and the private queues the broker names
   * ({@code amq.gen-…}).
   */
  private static String names(Names names, String alternatives) {
    return "^(" + quote(names) + "\\.(" + alternatives + ")|amq\\.gen-.*)$";
  }

  /** Names allow letters, digits, '_', '-' and '.': only the dots need escaping. */
  private static String quote(Names names) {
    return names.namespace().replace(".", "\\.");
  }

  /** The {@code rabbitmqctl set_permissions} line that grants these to a user on a vhost. */
  public String rabbitmqctl(String vhost, String user) {
    return "rabbitmqctl set_permissions -p "
        + vhost
        + " "
        + user
        + " '"
        + configure
        + "' '"
        + write
        + "' '"
        + read
        + "'";
  }
}
