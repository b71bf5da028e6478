package dev.conveyor.worker.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.conveyor.protocol.UsageException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Serves {@code /metrics} (Prometheus text) and {@code /health} (200 while connected and consuming,
 * 503 otherwise) with the JDK's own HTTP server.
 *
 * <p>Bound in two steps: {@link #bind} before the worker connects, so that a busy port or a wrong
 * address is a usage error before any task is taken, and {@link #start} once there is something to
 * report. Connections in between wait in the backlog.
 */
public final class MetricsServer implements AutoCloseable {

  private final HttpServer server;
  private final String address;
  private ExecutorService executor;

  private MetricsServer(HttpServer server, String address) {
    this.server = server;
    this.address = address;
  }

  /**
   * Listens on the address and port (0 = any free port) without serving yet.
   *
   * @param address a host name or IP literal; {@code 0.0.0.0} for every interface
   * @throws UsageException for an unknown address, one not on this machine, or a busy port
   */
  public static MetricsServer bind(String address, int port) {
    InetAddress ip;
    try {
      ip = InetAddress.getByName(address);
    } catch (UnknownHostException e) {
      throw new UsageException("--metrics-bind: unknown address " + address);
    }
    try {
      return new MetricsServer(HttpServer.create(new InetSocketAddress(ip, port), 16), address);
    } catch (BindException e) {
      if (String.valueOf(e.getMessage()).contains("in use")) {
        throw new UsageException(
            "--metrics-port " + port + " is already in use on " + address + "; choose another");
      }
      throw new UsageException(
          "--metrics-bind " + address + ": cannot listen there (" + e.getMessage() + ")");
    } catch (IOException e) {
      throw new UsageException(
          "--metrics-port " + port + " on " + address + ": cannot listen (" + e + ")");
    }
  }

  /** Starts answering on the bound address; the suppliers are asked on every request. */
  public synchronized void start(
      Supplier<String> metrics, BooleanSupplier ready, Supplier<String> health) {
    if (executor != null) {
      throw new IllegalStateException("already started");
    }
    executor =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "conveyor-metrics-http");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(executor);
    server.createContext(
        "/metrics",
        ex -> respond(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.get()));
    server.createContext(
        "/health",
        ex -> respond(ex, ready.getAsBoolean() ? 200 : 503, "application/json", health.get()));
    server.start();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** The address as given ({@code --metrics-bind}). */
  public String address() {
    return address;
  }

  private static void respond(HttpExchange ex, int code, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(code, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Stops listening, whether or not it was started. */
  @Override
  public synchronized void close() {
    server.stop(0);
    if (executor != null) {
      executor.shutdownNow();
    }
  }
}
