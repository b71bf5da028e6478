package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.cli.Cli;
import dev.conveyor.testkit.HelpText;
import dev.conveyor.worker.isolation.Isolation;
import dev.conveyor.worker.messaging.EventLevel;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/**
 * Every numeric and duration flag of {@code worker} is checked before anything starts: a value the
 * worker would misuse is refused with one line naming the flag and what it allows, exit 2.
 */
class WorkerFlagsTest {

  /** A broker nobody listens on: a flag that got through would end in exit 3, not 2. */
  private static final String NOWHERE = "--uri=amqp://guest:secret@127.0.0.1:1/";

  static Stream<Arguments> refused() {
    return Stream.of(
        Arguments.of("--concurrency=0", "--concurrency must be between 1 and 1000"),
        Arguments.of("--concurrency=1001", "--concurrency must be between 1 and 1000"),
        Arguments.of("--concurrency=-4", "--concurrency must be between 1 and 1000"),
        Arguments.of(
            "--metrics-port=65536",
            "--metrics-port must be between 0 and 65535 (0 = any free port)"),
        Arguments.of(
            "--metrics-port=-2", "--metrics-port must be between 0 and 65535 (0 = any free port)"),
        Arguments.of(
            "--max-payload=0",
            "--max-payload must be between 1 and 536870912 bytes (RabbitMQ's own limit is 512 MiB)"),
        Arguments.of(
            "--max-payload=-1",
            "--max-payload must be between 1 and 536870912 bytes (RabbitMQ's own limit is 512 MiB)"),
        Arguments.of("--default-timeout=0s", "--default-timeout must be at least 1ms"),
        Arguments.of("--default-timeout=366d", "--default-timeout must be at most 365d"),
        Arguments.of("--heartbeat=0s", "--heartbeat must be at least 100ms"),
        Arguments.of("--heartbeat=99ms", "--heartbeat must be at least 100ms"),
        Arguments.of("--kill-grace=0s", "--kill-grace must be at least 1ms"),
        Arguments.of("--kill-grace=9999999999d", "--kill-grace must be at most 365d"),
        Arguments.of("--shutdown-grace=400d", "--shutdown-grace must be at most 365d"),
        Arguments.of("--default-grace=400d", "--default-grace must be at most 365d"),
        Arguments.of("--retry-delay=400d", "--retry-delay must be at most 365d"),
        Arguments.of("--consumer-timeout=0s", "--consumer-timeout must be at least 1s"),
        Arguments.of(
            "--queues=default,a b",
            "--queues: queue name must be 1-100 characters of letters, digits, '.', '_' or '-': a"
                + " b"),
        Arguments.of("--name= ", "--name must be 1-100 characters, not blank"),
        Arguments.of("--exec-cwd-allow=jobs", "--exec-cwd-allow: not an absolute path: jobs"),
        Arguments.of(
            "--exec-env-allow=GREETING,A=B", "--exec-env-allow: not a variable name: 'A=B'"),
        Arguments.of("--name=" + "n".repeat(101), "--name must be 1-100 characters, not blank"),
        Arguments.of(
            "--child-heap=64m", "--child-heap and --max-tasks-per-child need --isolation process"),
        Arguments.of(
            "--max-tasks-per-child=3",
            "--child-heap and --max-tasks-per-child need --isolation process"));
  }

  @ParameterizedTest
  @MethodSource("refused")
  void aValueTheWorkerWouldMisuseIsAUsageErrorNamingTheFlag(String flag, String message) {
    Run r = run(NOWHERE, flag);

    assertThat(r.code).as(r.err).isEqualTo(2);
    assertThat(r.err.lines().toList()).containsExactly("worker: " + message);
  }

  @Test
  void aBadDurationIsAUsageErrorNamingTheFlag() {
    Run r = run(NOWHERE, "--heartbeat=soon");

    assertThat(r.code).as(r.err).isEqualTo(2);
    assertThat(r.err)
        .startsWith(
            "worker: Invalid value for option '--heartbeat': invalid duration 'soon' (use e.g."
                + " 500ms, 30s, 10m, 2h, 1d)");
  }

  /** Bound before connecting: the port is refused although no broker would answer. */
  @Test
  void aBusyMetricsPortIsAUsageErrorBeforeTheBrokerIsTried() throws Exception {
    try (ServerSocket taken = new ServerSocket()) {
      taken.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      int port = taken.getLocalPort();

      Run r = run(NOWHERE, "--metrics-port=" + port);

      assertThat(r.code).as(r.err).isEqualTo(2);
      assertThat(r.err.lines().toList())
          .containsExactly(
              "worker: --metrics-port " + port + " is already in use on 127.0.0.1; choose another");
    }
  }

  @Test
  void metricsBindWithoutAPortIsAUsageError() {
    Run r = run(NOWHERE, "--metrics-bind=0.0.0.0");

    assertThat(r.code).as(r.err).isEqualTo(2);
    assertThat(r.err.lines().toList())
        .containsExactly("worker: --metrics-bind needs --metrics-port");
  }

  @Test
  void metricsListenOnLoopbackUnlessToldOtherwise() {
    assertThat(config().metricsBind()).isEqualTo("127.0.0.1");
    assertThat(config("--metrics-port=9400", "--metrics-bind=0.0.0.0").metricsBind())
        .isEqualTo("0.0.0.0");
  }

  @Test
  void theSmallestAllowedValuesAreAccepted() {
    WorkerConfig config =
        config(
            "--concurrency=1",
            "--metrics-port=0",
            "--max-payload=1",
            "--shutdown-grace=0s",
            "--kill-grace=1ms",
            "--default-timeout=1ms",
            "--default-grace=0s",
            "--retry-delay=0s",
            "--heartbeat=100ms",
            "--consumer-timeout=1s");

    assertThat(config.concurrency()).isEqualTo(1);
    assertThat(config.metricsPort()).isZero();
    assertThat(config.maxPayloadBytes()).isEqualTo(1);
    assertThat(config.shutdownGrace()).isZero();
    assertThat(config.killGrace()).isEqualTo(Duration.ofMillis(1));
    assertThat(config.defaultTimeout()).contains(Duration.ofMillis(1));
    assertThat(config.defaultGrace()).isZero();
    assertThat(config.retryDelay()).isZero();
    assertThat(config.heartbeat()).isEqualTo(Duration.ofMillis(100));
    assertThat(config.consumerTimeout()).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void theLargestAllowedValuesAreAccepted() {
    WorkerConfig config =
        config(
            "--concurrency=1000",
            "--metrics-port=65535",
            "--max-payload=536870912",
            "--shutdown-grace=365d",
            "--retry-delay=365d");

    assertThat(config.concurrency()).isEqualTo(1000);
    assertThat(config.metricsPort()).isEqualTo(65_535);
    assertThat(config.maxPayloadBytes()).isEqualTo(536_870_912L);
    assertThat(config.shutdownGrace()).isEqualTo(Duration.ofDays(365));
    assertThat(config.retryDelay()).isEqualTo(Duration.ofDays(365));
  }

  @Test
  void theExecAllowListsReachTheConfiguration() {
    WorkerConfig config =
        config(
            "--exec-allow=/bin/sh",
            "--exec-env-allow=GREETING,LANG",
            "--exec-cwd-allow=/srv/jobs,/tmp");

    assertThat(config.execEnvAllow()).containsExactly("GREETING", "LANG");
    assertThat(config.execCwdAllow()).containsExactly(Path.of("/srv/jobs"), Path.of("/tmp"));
    assertThat(config().execEnvAllow()).isEmpty();
    assertThat(config().execCwdAllow()).isEmpty();
  }

  @Test
  void aQueueListedTwiceIsConsumedOnce() {
    // Two consumers of one queue would hold twice the prefetch the worker asked for.
    assertThat(config("--queues=a,b,a", "--queues=b").queues()).containsExactly("a", "b");
  }

  @Test
  void everyParagraphOfTheHelpIsWrappedWhole() {
    assertThat(HelpText.sentencesSplitOverLines(Cli.commandLine(new WorkerMain().spec())))
        .isEmpty();
  }

  @Test
  void theDefaultsAreTheDocumentedOnes() {
    WorkerConfig config = config();

    assertThat(config.concurrency()).isEqualTo(4);
    assertThat(config.metricsPort()).isEqualTo(-1);
    assertThat(config.maxPayloadBytes()).isEqualTo(1_048_576L);
    assertThat(config.defaultTimeout()).isEqualTo(Optional.empty());
    assertThat(config.heartbeat()).isEqualTo(Duration.ofSeconds(10));
  }

  @Test
  void eventsIsAllFinalOrNoneAndAllByDefault() {
    assertThat(config().events()).isEqualTo(EventLevel.ALL);
    assertThat(config("--events=final").events()).isEqualTo(EventLevel.FINAL);
    assertThat(config("--events=none").events()).isEqualTo(EventLevel.NONE);

    Run r = run(NOWHERE, "--events=some");

    assertThat(r.code).as(r.err).isEqualTo(2);
    assertThat(r.err)
        .startsWith(
            "worker: Invalid value for option '--events': 'some' is not one of all, final, none");
  }

  @Test
  void isolationIsThreadOrProcessAndThreadByDefault() {
    assertThat(config().isolation()).isEqualTo(Isolation.THREAD);
    WorkerConfig process =
        config("--isolation=process", "--child-heap=64m", "--max-tasks-per-child=100");
    assertThat(process.isolation()).isEqualTo(Isolation.PROCESS);
    assertThat(process.childHeap()).contains("64m");
    assertThat(process.maxTasksPerChild()).isEqualTo(100);
    assertThat(config().maxTasksPerChild()).isZero();

    Run r = run(NOWHERE, "--isolation=fork");
    assertThat(r.code).as(r.err).isEqualTo(2);
    assertThat(r.err)
        .startsWith(
            "worker: Invalid value for option '--isolation': 'fork' is not one of thread,"
                + " process");
    Run heap = run(NOWHERE, "--isolation=process", "--child-heap=lots");
    assertThat(heap.code).as(heap.err).isEqualTo(2);
    assertThat(heap.err.lines().toList())
        .containsExactly("worker: --child-heap must be a size with a unit, like 256m or 2g");
    Run max = run(NOWHERE, "--isolation=process", "--max-tasks-per-child=-1");
    assertThat(max.code).as(max.err).isEqualTo(2);
    assertThat(max.err.lines().toList())
        .containsExactly(
            "worker: --max-tasks-per-child must be between 0 and 2147483647 (0 = never)");
  }

  private static WorkerConfig config(String... args) {
    WorkerMain main = new WorkerMain();
    List<String> all = new ArrayList<>(List.of(NOWHERE));
    all.addAll(List.of(args));
    Cli.commandLine(main.spec()).parseArgs(all.toArray(String[]::new));
    return main.config();
  }

  private record Run(int code, String err) {}

  private static Run run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine cl = Cli.commandLine(new WorkerMain().spec());
    cl.setErr(new PrintWriter(err, true));
    cl.setOut(new PrintWriter(new StringWriter(), true));
    int code = cl.execute(args);
    return new Run(code, err.toString());
  }
}
