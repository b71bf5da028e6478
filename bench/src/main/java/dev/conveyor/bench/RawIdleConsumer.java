package dev.conveyor.bench;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The smallest useful consumer JVM, for comparing idle memory with the worker's: one amqp-client
 * connection, one channel, prefetch, manual acks, nothing else. Run as its own process by {@link
 * StartBench}: {@code java -cp bench-all.jar dev.conveyor.bench.RawIdleConsumer URI QUEUE
 * PREFETCH}; prints {@code ready} once it consumes and runs until it is terminated.
 */
public final class RawIdleConsumer {
  private RawIdleConsumer() {}

  public static void main(String[] args) throws Exception {
    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(new URI(args[0]));
    factory.setVirtualHost("/");
    Connection connection = factory.newConnection("conveyor-bench raw idle consumer");
    Channel ch = connection.createChannel();
    ch.basicQos(Integer.parseInt(args[2]));
    ch.basicConsume(
        args[1],
        false,
        new DefaultConsumer(ch) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body)
              throws IOException {
            getChannel().basicAck(envelope.getDeliveryTag(), false);
          }
        });
    System.out.println("ready");
    System.out.flush();
    Thread.currentThread().join(); // until SIGTERM
  }

  /** A running raw consumer process. */
  record Running(Process process, CompletableFuture<Boolean> ready) {
    long pid() {
      return process.pid();
    }

    boolean awaitReady(long seconds) {
      try {
        return ready.get(seconds, TimeUnit.SECONDS);
      } catch (Exception e) {
        return false;
      }
    }

    void stop() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor();
      }
    }
  }

  /** Starts it with the bench's own JDK and class path, default JVM flags. */
  static Running launch(URI uri, String queue, int prefetch) throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder pb =
        new ProcessBuilder(
            List.of(
                java.toString(),
                "-Dlogback.configurationFile=bench-logback.xml",
                "-cp",
                System.getProperty("java.class.path"),
                RawIdleConsumer.class.getName(),
                uri.toString(),
                queue,
                Integer.toString(prefetch)));
    pb.redirectError(ProcessBuilder.Redirect.INHERIT)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Process p = pb.start();
    Harness.progress("started a raw consumer JVM as pid %d", p.pid());
    CompletableFuture<Boolean> ready =
        CompletableFuture.supplyAsync(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  if (line.equals("ready")) {
                    return true;
                  }
                }
                return false;
              } catch (IOException e) {
                return false;
              }
            });
    return new Running(p, ready);
  }
}
