package dev.conveyor.dashboard;

import dev.conveyor.protocol.Durations;
import dev.conveyor.protocol.ExitCodes;
import dev.conveyor.protocol.UsageException;
import dev.conveyor.protocol.broker.BrokerOptions;
import dev.conveyor.protocol.cli.Cli;
import dev.conveyor.protocol.cli.FlagChecks;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.BindException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** The {@code dashboard} program: serves the web page, or adds a user to the users file. */
@Command(
    name = "dashboard",
    mixinStandardHelpOptions = true,
    version = "conveyor dashboard 0.1.0",
    description =
        "A web page over the broker: workers, running tasks with Stop and Kill, queues, live"
            + " events and an outcome chart. Login required; viewers cannot change anything.",
    subcommands = {DashboardMain.AddUser.class, CommandLine.HelpCommand.class},
    footer = {
      "",
      "Exit codes: 0 ok, 1 failure (e.g. the port is taken), 2 usage error, 3 broker unreachable."
    })
public final class DashboardMain implements Callable<Integer> {

  @Mixin BrokerOptions broker;

  @Option(
      names = "--port",
      defaultValue = "8080",
      description = "HTTP port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
  int port;

  @Option(
      names = "--bind",
      defaultValue = "127.0.0.1",
      description = "Address to listen on (default: ${DEFAULT-VALUE}).")
  String bind;

  @Option(
      names = "--users-file",
      paramLabel = "FILE",
      description = "Users and their bcrypt hashes (bin/dashboard add-user); required.")
  Path usersFile;

  @Option(
      names = "--management-url",
      paramLabel = "URL",
      description =
          "RabbitMQ management API, for unacknowledged counts (default: http://<broker host>:15672/"
              + " with the broker URI's credentials).")
  URI managementUrl;

  @Option(
      names = "--status-every",
      paramLabel = "DURATION",
      defaultValue = "5s",
      converter = Durations.class,
      description = "How often to ask the workers for their status (default: ${DEFAULT-VALUE}).")
  Duration statusEvery;

  @Option(
      names = "--secure-cookies",
      description = "Mark cookies Secure (when users reach the dashboard over HTTPS).")
  boolean secureCookies;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (usersFile == null) {
      throw new UsageException("--users-file is required (create one with 'dashboard add-user')");
    }
    if (port < 0 || port > 65535) {
      throw new UsageException("--port must be between 0 and 65535");
    }
    FlagChecks.positive("--status-every", statusEvery);
    UserStore users = UserStore.load(usersFile);
    if (users.size() == 0) {
      throw new UsageException("users file " + usersFile + " has no users; add one with add-user");
    }
    DashboardServer.Options options =
        new DashboardServer.Options(
            bind, port, broker.settings(), managementUrl, statusEvery, secureCookies);
    DashboardServer server;
    try {
      server = DashboardServer.start(options, users);
    } catch (RuntimeException e) {
      if (causedBy(e, BindException.class)) {
        PrintWriter err = spec.commandLine().getErr();
        err.println("dashboard: cannot listen on " + bind + ":" + port + ": address in use");
        err.flush();
        return ExitCodes.FAILURE;
      }
      throw e;
    }
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.close();
                  stopped.countDown();
                },
                "conveyor-dashboard-shutdown"));
    PrintWriter out = spec.commandLine().getOut();
    String host = bind.contains(":") ? "[" + bind + "]" : bind;
    out.println(
        "dashboard listening on http://"
            + host
            + ":"
            + server.port()
            + "/ (namespace "
            + options.broker().namespace()
            + ", "
            + users.size()
            + " user(s))");
    out.flush();
    Cli.workDone();
    stopped.await();
    return ExitCodes.OK;
  }

  private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return true;
      }
    }
    return false;
  }

  /** {@code dashboard add-user}: adds a user or replaces its role and password. */
  @Command(
      name = "add-user",
      mixinStandardHelpOptions = true,
      description = {
        "Adds a user to the users file, or changes its role and password.",
        "The password is read from standard input (the first line; asked twice on a terminal) and"
            + " stored as a salted bcrypt hash."
      })
  static final class AddUser implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME", description = "The user name.")
    String name;

    @Option(
        names = "--role",
        required = true,
        paramLabel = "viewer|operator",
        description = "viewer: looks only; operator: also stops, kills and replays.")
    String role;

    @Option(
        names = "--users-file",
        required = true,
        paramLabel = "FILE",
        description = "The users file (created if missing).")
    Path usersFile;

    @Spec CommandSpec spec;

    @Override
    public Integer call() throws IOException {
      Role r = Role.parse(role);
      String password = readPassword();
      boolean added = UserStore.add(usersFile, name, r, password);
      PrintWriter out = spec.commandLine().getOut();
      out.println((added ? "added " : "updated ") + name + " (" + r.wire() + ") in " + usersFile);
      out.flush();
      return ExitCodes.OK;
    }

    /** Whether the console is a terminal; {@code Console.isTerminal} exists from Java 22 on. */
    private static boolean interactive(Console console) {
      if (console == null) {
        return false;
      }
      try {
        return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
      } catch (ReflectiveOperationException e) {
        return true; // Java 21 has a console only for a terminal
      }
    }

    private static String readPassword() throws IOException {
      Console console = System.console();
      if (interactive(console)) {
        char[] first = console.readPassword("Password: ");
        char[] second = console.readPassword("Again: ");
        if (first == null || second == null || !Arrays.equals(first, second)) {
          throw new UsageException("the passwords differ");
        }
        return new String(first);
      }
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      String line = in.readLine();
      if (line == null || line.isEmpty()) {
        throw new UsageException("no password on standard input");
      }
      return line;
    }
  }

  public static void main(String[] args) {
    Cli.main(new DashboardMain(), args);
  }
}
