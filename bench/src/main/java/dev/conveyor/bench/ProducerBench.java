package dev.conveyor.bench;

import static dev.conveyor.bench.Harness.progress;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.conveyor.producer.TaskPublisher;
import dev.conveyor.producer.TaskSpec;
import dev.conveyor.protocol.wire.Ids;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.protocol.wire.Wire;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.NavigableSet;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Confirmed publishes per second into one quorum task queue: {@code bin/producer publish --count N}
 * as a process, the {@link TaskPublisher} API in this JVM, and a bare amqp-client publisher with
 * the same confirm window ({@link TaskPublisher#DEFAULT_WINDOW}), in rounds of rotating order.
 */
@Command(
    name = "producer",
    mixinStandardHelpOptions = true,
    description = {
      "Confirmed publishes/s of noop tasks into one quorum queue: producer-cli (bin/producer"
          + " publish --count N, launch to exit), task-publisher (TaskPublisher.publishAll in this"
          + " JVM) and bare (amqp-client, persistent, mandatory, the same confirm window). A"
          + " warm-up round, then --runs rounds, the order rotated each round."
    })
public final class ProducerBench implements Callable<Integer> {

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--count",
      defaultValue = "100000",
      description = "Tasks published per measurement (default: ${DEFAULT-VALUE}).")
  int count;

  @Option(
      names = "--runs",
      defaultValue = "3",
      description = "Measured rounds after the warm-up round (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(
      names = "--timeout",
      defaultValue = "300",
      description = "Seconds one measurement may take (default: ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Option(
      names = "--repo",
      defaultValue = "${sys:conveyor.repo:-.}",
      description = "The repository, for bin/producer and its built jar (default: bench/run's).")
  Path repo;

  /** The broker's process, whose CPU per task is measured next to the publisher's. */
  private OptionalLong brokerPid = OptionalLong.empty();

  @Override
  public Integer call() throws Exception {
    Optional<WorkerLauncher> cli = WorkerLauncher.find(repo, "producer");
    brokerPid =
        CpuUse.listenerOf(
            common.uri.getPort() > 0 ? common.uri.getPort() : ConnectionFactory.DEFAULT_AMQP_PORT);
    Report report = new Report("producer");
    try (Harness h = Harness.open(common.uri, "producer")) {
      report.put("broker", h.brokerVersion());
      report.put("window", TaskPublisher.DEFAULT_WINDOW);
      report.text("Conveyor producer — %s", Report.Machine.line());
      report.text(
          "broker: RabbitMQ %s; %d noop tasks per measurement into one quorum queue, persistent,"
              + " confirm window %d; a warm-up round, then %d rounds, order rotated",
          h.brokerVersion(), count, TaskPublisher.DEFAULT_WINDOW, runs);
      List<Rounds.Contender> contenders = new ArrayList<>();
      if (cli.isPresent()) {
        contenders.add(
            new Rounds.Contender("producer-cli", () -> measure(h, () -> cli(h, cli.get()))));
        report.text(
            "  producer-cli: from the launch of bin/producer to its exit (JVM start included)");
      } else {
        report.text("  producer-cli: left out (no bin/producer or producer jar; mvn package)");
      }
      contenders.add(new Rounds.Contender("task-publisher", () -> measure(h, () -> api(h))));
      contenders.add(new Rounds.Contender("bare", () -> measure(h, () -> bare(h))));
      Rounds rounds = Rounds.run(contenders, runs);
      report.text("");
      rounds.report(
          report,
          "producer",
          "msg/s",
          List.of(
              new Rounds.Ratio("producer-cli", "bare", 0.8),
              new Rounds.Ratio("task-publisher", "bare")));
      if (cli.isPresent()) {
        fixedCost(h, cli.get(), rounds.stats("producer-cli").median(), report);
      }
    }
    report.print(System.out, common.json);
    return 0;
  }

  @FunctionalInterface
  private interface Publish {
    void run() throws Exception;
  }

  /** Empty queue, publish, check that the queue holds them all, empty it again. */
  private Rounds.Measured measure(Harness h, Publish publish) throws Exception {
    h.purge();
    Conditions.Meter meter = Conditions.start();
    CpuUse.Meter cpuMeter = CpuUse.start(brokerPid);
    long t0 = System.nanoTime();
    publish.run();
    double s = (System.nanoTime() - t0) / 1e9;
    CpuUse.PerTask cpu = cpuMeter.end().perTask(count);
    Conditions c = meter.end();
    long depth = h.depth();
    if (depth != count) {
      progress("after publishing %d the queue holds %d", count, depth);
    }
    h.purge();
    progress("%d confirmed in %.3f s: %.1f msg/s %s %s", count, s, count / s, c, cpu);
    return new Rounds.Measured(count / s, c, cpu);
  }

  /** Launches of {@code publish --count 1} that {@link #fixedCost} times. */
  private static final int FIXED_COST_LAUNCHES = 5;

  /**
   * What every run of producer-cli pays whatever its count: launch to exit of {@code publish
   * --count 1} (JVM start, connection, declarations, one confirmed publish), and its share of a
   * producer-cli run at the median rate.
   */
  private void fixedCost(Harness h, WorkerLauncher producer, double cliRate, Report report)
      throws Exception {
    List<Double> ms = new ArrayList<>();
    Conditions.Meter meter = Conditions.start();
    for (int i = 0; i < FIXED_COST_LAUNCHES; i++) {
      h.purge();
      long t0 = System.nanoTime();
      cli(h, producer, 1);
      ms.add(Stats.millis(System.nanoTime() - t0));
    }
    Conditions c = meter.end();
    h.purge();
    Stats fixed = new Stats(ms);
    double cliRunMs = count / cliRate * 1000;
    report.put("cliFixedCost", fixed.summary());
    report.text(
        "  producer-cli fixed cost, launch -> exit of publish --count 1 (%d launches): median %.0f"
            + " ms (min %.0f, max %.0f), %.0f %% of a producer-cli run at its median rate %s",
        FIXED_COST_LAUNCHES,
        fixed.median(),
        fixed.min(),
        fixed.max(),
        100 * fixed.median() / cliRunMs,
        c);
  }

  private void cli(Harness h, WorkerLauncher producer) throws Exception {
    cli(h, producer, count);
  }

  private void cli(Harness h, WorkerLauncher producer, int tasks) throws Exception {
    WorkerLauncher.Running p =
        producer.start(h, "publish", "--type", "noop", "--count", Integer.toString(tasks));
    int code = p.awaitExit(timeoutSeconds);
    if (code != 0) {
      throw new IllegalStateException("bin/producer exited with " + code);
    }
  }

  private void api(Harness h) throws Exception {
    try (TaskPublisher publisher = TaskPublisher.open(h.settings())) {
      // One task without id nor createdAt: the publisher gives each copy its own as it publishes
      // it, as bin/producer's are built. A collection, so written several at a time.
      TaskMessage noop = new TaskMessage(null, "noop", null, null, null, null, null, null);
      Collection<TaskMessage> tasks = Collections.nCopies(count, noop);
      publisher.publishAll(Harness.QUEUE, tasks, batch -> {});
    }
  }

  /**
   * Persistent, mandatory, a new message id each, a body of a TaskPublisher task's size, at most
   * {@link TaskPublisher#DEFAULT_WINDOW} unconfirmed.
   */
  private void bare(Harness h) throws Exception {
    byte[] body = Wire.encode(TaskPublisher.complete(TaskSpec.of("noop").build()));
    ConnectionFactory factory = new ConnectionFactory();
    factory.setUri(common.uri);
    factory.setVirtualHost("/");
    try (Connection connection = factory.newConnection("conveyor-bench bare publisher");
        Channel ch = connection.createChannel()) {
      ch.confirmSelect();
      Semaphore window = new Semaphore(TaskPublisher.DEFAULT_WINDOW);
      NavigableSet<Long> unconfirmed = new ConcurrentSkipListSet<>();
      int[] nacked = {0};
      ch.addConfirmListener(
          (tag, multiple) -> settle(unconfirmed, window, tag, multiple),
          (tag, multiple) -> nacked[0] += settle(unconfirmed, window, tag, multiple));
      String exchange = h.names().tasksExchange();
      for (int i = 0; i < count; i++) {
        if (!window.tryAcquire(timeoutSeconds, TimeUnit.SECONDS)) {
          throw new IllegalStateException("no confirm in " + timeoutSeconds + " s");
        }
        unconfirmed.add(ch.getNextPublishSeqNo());
        AMQP.BasicProperties props =
            new AMQP.BasicProperties.Builder()
                .messageId(Ids.newId())
                .contentType(Wire.CONTENT_TYPE)
                .deliveryMode(2)
                .build();
        ch.basicPublish(exchange, Harness.QUEUE, true, props, body);
      }
      if (!window.tryAcquire(TaskPublisher.DEFAULT_WINDOW, timeoutSeconds, TimeUnit.SECONDS)) {
        throw new IllegalStateException("not all confirmed in " + timeoutSeconds + " s");
      }
      if (nacked[0] > 0) {
        throw new IllegalStateException(nacked[0] + " publishes nacked");
      }
    }
  }

  private static int settle(
      NavigableSet<Long> unconfirmed, Semaphore window, long tag, boolean multiple) {
    NavigableSet<Long> done =
        multiple ? unconfirmed.headSet(tag, true) : unconfirmed.subSet(tag, true, tag, true);
    int n = 0;
    while (done.pollFirst() != null) {
      n++;
    }
    window.release(n);
    return n;
  }
}
