package dev.conveyor.worker.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Headers;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.testkit.BrokerAdmin;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ControlLogCommands;
import dev.conveyor.testkit.LogCapture;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Every worker start appends a marker to the control log, which keeps 25 hours: a start that read
 * the log from 25 hours back read every earlier start's marker (0.3 ms each on the development
 * machine: 0.3 s for 1 000 starts). A worker that has caught up appends a checkpoint, which names
 * its marker's offset and carries the stops still honoured from before it, and the next start reads
 * from the newest one instead, found at the log's end or a few entries before it. These replays run
 * against the real broker, in a namespace of their own.
 */
@ExtendWith(BrokerExtension.class)
class ControlLogCheckpointIT {

  private static final int EARLIER_STARTS = 200;
  private static final byte[] KEY = "secret-key-of-sixteen+".getBytes(StandardCharsets.UTF_8);

  private TestBroker broker;
  private String log;

  @BeforeEach
  void declare(TestBroker broker) {
    this.broker = broker;
    this.log =
        broker.withChannel(
            ch -> {
              broker.topology().declareCore(ch);
              return broker.topology().declareControlLog(ch);
            });
  }

  @Test
  void aStartAfterACheckpointReadsOnlyWhatCameAfterItAndStillHonoursTheStops() throws Exception {
    appendMarkers(EARLIER_STARTS);
    stop("t-recent", Optional.empty());
    Replay first = replay(Optional.empty());
    assertThat(first.revocations().find("t-recent")).isPresent();
    assertThat(first.replay().entriesRead()).isGreaterThan(EARLIER_STARTS);

    Replay second = replay(Optional.empty());

    assertThat(second.revocations().find("t-recent")).isPresent();
    // The stop, the first start's marker and checkpoint, its own marker.
    assertThat(second.replay().entriesRead()).isLessThan(10);
  }

  @Test
  void aStopOlderThanTheMarkersIsCarriedByTheCheckpointsAfterIt() throws Exception {
    stop("t-old", Optional.empty());
    appendMarkers(EARLIER_STARTS);
    Replay first = replay(Optional.empty());
    assertThat(first.replay().entriesRead()).isGreaterThan(EARLIER_STARTS);

    Replay second = replay(Optional.empty());
    Replay third = replay(Optional.empty());

    assertThat(second.revocations().find("t-old")).isPresent();
    assertThat(third.revocations().find("t-old")).isPresent();
    // The checkpoint before it (which carries the stop), its marker, its own marker.
    assertThat(second.replay().entriesRead()).isLessThan(10);
    assertThat(third.replay().entriesRead()).isLessThan(10);
  }

  @Test
  void aCommandAfterTheLastCheckpointMakesAStartLookBackForItNotReadTheWholeLog() throws Exception {
    stop("t-1", Optional.empty());
    appendMarkers(EARLIER_STARTS);
    replay(Optional.empty());
    stop("t-2", Optional.empty()); // now the newest entry
    stop("t-3", Optional.empty());

    Replay later = replay(Optional.empty());

    assertThat(later.revocations().find("t-1")).isPresent();
    assertThat(later.revocations().find("t-2")).isPresent();
    assertThat(later.revocations().find("t-3")).isPresent();
    // At most 17 entries looked at for the checkpoint, then the few from it on.
    assertThat(later.replay().entriesRead()).isLessThan(30);
  }

  /**
   * amqp-client's recovery consumes again with the arguments it recorded: a worker that has
   * reconnected reads on from the entry after the last one it read, not again from where it began.
   */
  @Test
  void aReplayThatReconnectsReadsOnFromWhereItWas() throws Exception {
    String name = "lossy-replay-" + broker.namespace();
    Connection connection = broker.open(name);
    Revocations revocations = new Revocations();
    ControlLogReplay replay =
        newReplay(connection, revocations, Optional.empty(), refusal -> {}, null);
    assertThat(replay.startAndCatchUp(Duration.ofSeconds(30))).as("caught up").isTrue();
    for (int i = 0; i < 30; i++) {
      stop("t-" + i, Optional.empty());
    }
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> revocations.find("t-29").isPresent());
    int before = replay.entriesRead();

    CountDownLatch recovered = Recoveries.next(connection);
    new BrokerAdmin(broker.uri()).closeConnectionsOnceListed(name, 1);
    assertThat(recovered.await(30, TimeUnit.SECONDS)).as("recovered").isTrue();
    stop("t-after", Optional.empty()); // read after anything read again before it

    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> revocations.find("t-after").isPresent());
    assertThat(replay.entriesRead()).isEqualTo(before + 1);
  }

  @Test
  void manyCommandsAfterTheLastCheckpointMakeAStartLookFurtherBack() throws Exception {
    appendMarkers(600);
    replay(Optional.empty());
    for (int i = 0; i < 40; i++) {
      stop("t-" + i, Optional.empty());
    }

    Replay later = replay(Optional.empty());

    for (int i = 0; i < 40; i++) {
      assertThat(later.revocations().find("t-" + i)).as("t-" + i).isPresent();
    }
    // 17 entries looked at, then 257, then the 40 stops and three markers from the checkpoint on.
    assertThat(later.replay().entriesRead()).isBetween(40, 400);
  }

  /** A look back whose entries stop short of the one it waits for gives up, and says so. */
  @Test
  void aLookBackThatDoesNotReachItsEndGivesUpAndSaysSo() throws Exception {
    appendMarkers(3); // offsets 0 to 2: nothing is ever written at offset 10
    ControlLogReplay replay = newReplay(new Revocations(), Optional.empty(), refusal -> {}, null);

    try (LogCapture captured = LogCapture.of(ControlLogReplay.class)) {
      assertThat(replay.newestCheckpointBefore(log, 10, 16, Duration.ofMillis(300))).isEmpty();
      assertThat(captured.warnings())
          .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
          .contains("did not all come within");
    }
  }

  @Test
  void aStartWithNoCheckpointNearTheLogsEndReadsTheWholeLog() throws Exception {
    stop("t-1", Optional.empty());
    replay(Optional.empty()).replay().close(); // a worker that has stopped since
    appendMarkers(300); // an earlier version's starts, which leave no checkpoint
    stop("t-2", Optional.empty());

    Replay later = replay(Optional.empty());

    assertThat(later.revocations().find("t-1")).isPresent();
    assertThat(later.revocations().find("t-2")).isPresent();
    assertThat(later.replay().entriesRead()).isGreaterThan(300);
  }

  @Test
  void withAControlKeyACarriedStopIsVerifiedLikeTheEntryItself() throws Exception {
    ControlSigner signer = new ControlSigner(KEY);
    byte[] unsigned = stopBody("t-unsigned");
    byte[] signed = stopBody("t-signed");
    // A checkpoint signed with the key that carries a stop nobody signed, and one that was.
    byte[] body =
        new Checkpoint(
                0,
                List.of(
                    new Checkpoint.Stop(0, unsigned, null),
                    new Checkpoint.Stop(1, signed, signer.sign(signed))))
            .body(log);
    broker.withConfirms(
        ch -> {
          ch.basicPublish("", log, markerProps(signer.sign(body)), body);
          return null;
        });

    Replay keyed = replay(Optional.of(signer));

    assertThat(keyed.revocations().find("t-signed")).isPresent();
    assertThat(keyed.revocations().find("t-unsigned")).isEmpty();
  }

  @Test
  void withAControlKeyAnUnsignedCheckpointIsIgnored() throws Exception {
    ControlSigner signer = new ControlSigner(KEY);
    appendMarkers(20);
    stop("t-signed", Optional.of(signer));
    // Forged: it claims the log holds nothing honoured before its own end.
    broker.withConfirms(
        ch -> {
          ch.basicPublish("", log, markerProps(null), checkpointBody(Long.MAX_VALUE / 2));
          return null;
        });

    Replay keyed = replay(Optional.of(signer));

    assertThat(keyed.revocations().find("t-signed")).isPresent();
    assertThat(keyed.replay().entriesRead()).isGreaterThan(20);
  }

  @Test
  void withAControlKeyASignedCheckpointIsFollowed() throws Exception {
    ControlSigner signer = new ControlSigner(KEY);
    appendMarkers(EARLIER_STARTS);
    stop("t-signed", Optional.of(signer));
    replay(Optional.of(signer));

    Replay keyed = replay(Optional.of(signer));

    assertThat(keyed.revocations().find("t-signed")).isPresent();
    assertThat(keyed.replay().entriesRead()).isLessThan(10);
  }

  /** A dashboard's status rounds, every few seconds, would otherwise fill the log. */
  @Test
  void statusRoundsDoNotReachTheLog() throws Exception {
    statusRounds(50);
    stop("t-1", Optional.empty());

    Replay replay = replay(Optional.empty());

    assertThat(replay.revocations().find("t-1")).isPresent();
    assertThat(replay.replay().entriesRead()).isLessThan(10);
  }

  @Test
  void aLogStillBoundStraightToTheControlExchangeIsUnboundWhenDeclared() throws Exception {
    broker.withChannel(
        ch -> {
          ch.queueBind(log, broker.names().controlExchange(), ""); // as it was bound before
          broker.topology().declareControlLog(ch);
          return null;
        });
    statusRounds(50);

    Replay replay = replay(Optional.empty());

    assertThat(replay.replay().entriesRead()).isLessThan(10);
  }

  // ---------------------------------------------------------------------------------------------

  /** Status rounds as {@code control status} and the dashboard publish them. */
  /**
   * Commands between two starts: the worker running meanwhile appends checkpoints as they come, so
   * the next start finds one within its look back, and it carries the stops read since the running
   * worker's own start.
   */
  @Test
  void aRunningWorkerKeepsACheckpointNearTheLogsEndAsCommandsCome() throws Exception {
    replay(Optional.empty(), new ControlLogReplay.Periodic(128, Duration.ZERO, io()));
    for (int i = 0; i < 500; i++) {
      if (i % 100 == 0) {
        stop("t-" + i, Optional.empty());
      } else {
        pause("elsewhere-" + i);
      }
    }

    Replay later = replay(Optional.empty());

    for (int i = 0; i < 500; i += 100) {
      assertThat(later.revocations().find("t-" + i)).as("t-" + i).isPresent();
    }
    // Without the running worker's checkpoints: 17, 257, then all 500 commands from 25 hours back.
    // With them: 17 and 257 entries looked at, then the 128 or so from the newest on.
    assertThat(later.replay().entriesRead()).isLessThan(450);
    // One checkpoint per 128 commands, besides the two starts': none written twice.
    assertThat(checkpointOffsets()).hasSizeBetween(2 + 3, 2 + 4);
  }

  /**
   * Of two workers that read the same commands, the one whose checkpoint comes second does not
   * append it: a worker's pause is held until the other's checkpoint has been read by it.
   */
  @Test
  void aWorkerThatSeesAnothersCheckpointFirstAppendsNone() throws Exception {
    ScheduledExecutorService held = io();
    CountDownLatch release = hold(held);
    Replay waiting =
        replay(Optional.empty(), new ControlLogReplay.Periodic(128, Duration.ZERO, held));
    replay(Optional.empty(), new ControlLogReplay.Periodic(128, Duration.ZERO, io()));
    assertThat(checkpointOffsets()).hasSize(2); // the two starts'
    for (int i = 0; i < 150; i++) {
      stop("t-" + i, Optional.empty());
    }
    Awaitility.await("the free worker's checkpoint")
        .atMost(Duration.ofSeconds(30))
        .until(() -> checkpointOffsets().size() == 3);
    long third = checkpointOffsets().getLast();
    Awaitility.await("the held worker reading past it")
        .atMost(Duration.ofSeconds(30))
        .until(() -> waiting.replay().lastRead() >= third);

    release.countDown();
    held.submit(() -> null).get(30, TimeUnit.SECONDS); // its scheduled checkpoint has run

    assertThat(checkpointOffsets()).hasSize(3);
  }

  /**
   * A worker that has written a checkpoint counts what it reads from there on towards the next one,
   * not from its checkpoint's read-back: the entries it still had to read when it wrote one (it
   * lags the log) do not make it write a second one right after. Its reading is held at two
   * malformed entries in turn, and its writing until it has reached the first.
   */
  @Test
  void aWorkerBehindTheLogDoesNotWriteASecondCheckpointRightAfterItsOwn() throws Exception {
    ScheduledExecutorService io = io();
    CountDownLatch writing = hold(io);
    List<CountDownLatch> reading = List.of(new CountDownLatch(1), new CountDownLatch(1));
    AtomicInteger malformed = new AtomicInteger();
    ControlLogReplay lagging =
        newReplay(
            new Revocations(),
            Optional.empty(),
            refusal -> {
              int k = malformed.getAndIncrement();
              if (k < reading.size()) {
                awaitQuietly(reading.get(k));
              }
            },
            new ControlLogReplay.Periodic(128, Duration.ZERO, io));
    try {
      assertThat(lagging.startAndCatchUp(Duration.ofSeconds(30))).as("caught up").isTrue();
      int starts = checkpointOffsets().size();
      for (int i = 0; i < 128; i++) {
        pause("elsewhere-" + i);
      }
      appendMalformed(); // the worker stops here: 128 read since its start's checkpoint
      for (int i = 0; i < 10; i++) {
        pause("later-" + i);
      }
      appendMalformed(); // and here, before the checkpoint it writes comes back to it
      Awaitility.await("the worker held at the first malformed entry")
          .atMost(Duration.ofSeconds(30))
          .until(() -> malformed.get() == 1);

      writing.countDown(); // its checkpoint, from the first malformed entry on, after the second
      Awaitility.await("its checkpoint")
          .atMost(Duration.ofSeconds(30))
          .until(() -> checkpointOffsets().size() == starts + 1);
      long own = checkpointOffsets().getLast();
      reading.get(0).countDown(); // it reads 11 entries, which were in the log before its own
      Awaitility.await("the worker held at the second malformed entry")
          .atMost(Duration.ofSeconds(30))
          .until(() -> malformed.get() == 2);
      io.submit(() -> null).get(30, TimeUnit.SECONDS); // whatever those 11 scheduled has run
      reading.get(1).countDown();
      Awaitility.await("the worker reading its own checkpoint back")
          .atMost(Duration.ofSeconds(30))
          .until(() -> lagging.lastRead() >= own);

      assertThat(checkpointOffsets()).hasSize(starts + 1);
    } finally {
      reading.forEach(CountDownLatch::countDown);
      writing.countDown();
    }
  }

  /**
   * What a start reads before its own marker was published before the worker was there: only
   * remembered (the tasks it names are revoked), never handed on to be applied and answered. What
   * comes after the marker is handed on: a worker acts on it unless its queue of commands brought
   * it first, which is how a command a lost connection took still reaches it.
   */
  @Test
  void onlyTheStopsReadAfterItsOwnMarkerAreHandedOn() throws Exception {
    stop("t-before", Optional.empty());
    List<String> handedOn = new CopyOnWriteArrayList<>();
    Revocations revocations = new Revocations();
    ControlLogReplay replay =
        newReplay(
            broker.connection(),
            revocations,
            Optional.empty(),
            refusal -> {},
            null,
            (m, body, headers) -> handedOn.addAll(((Target.Tasks) m.target()).ids()));
    assertThat(replay.startAndCatchUp(Duration.ofSeconds(30))).as("caught up").isTrue();
    assertThat(revocations.find("t-before")).isPresent();

    stop("t-after", Optional.empty());
    Awaitility.await("the stop after the start, handed on")
        .atMost(Duration.ofSeconds(10))
        .until(() -> handedOn.contains("t-after"));
    assertThat(handedOn).containsExactly("t-after");
  }

  /** Holds the executor's thread until the latch returned is counted down. */
  private static CountDownLatch hold(ScheduledExecutorService executor) {
    CountDownLatch release = new CountDownLatch(1);
    executor.execute(() -> awaitQuietly(release));
    return release;
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** An entry that is not JSON, as a client of one's own might publish to the control exchange. */
  private void appendMalformed() {
    toControl("{not json".getBytes(StandardCharsets.UTF_8), Map.of());
  }

  private final List<ScheduledExecutorService> executors = new ArrayList<>();

  private ScheduledExecutorService io() {
    ScheduledExecutorService e =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("test-control-log-io").daemon().factory());
    executors.add(e);
    return e;
  }

  @AfterEach
  void stopExecutors() {
    executors.forEach(ScheduledExecutorService::shutdownNow);
  }

  /** The offsets of the checkpoints in the log, in order. */
  private List<Long> checkpointOffsets() throws Exception {
    ControlLogReplay reader = newReplay(new Revocations(), Optional.empty(), refusal -> {}, null);
    return ControlLogCommands.entries(broker).stream()
        .filter(e -> reader.checkpointIn(log, e.headers(), e.body()).isPresent())
        .map(ControlLogCommands.Entry::offset)
        .toList();
  }

  private void statusRounds(int count) {
    byte[] body =
        "{\"id\":\"s\",\"command\":\"status\",\"target\":{\"all\":true}}"
            .getBytes(StandardCharsets.UTF_8);
    broker.withConfirms(
        ch -> {
          for (int i = 0; i < count; i++) {
            ch.basicPublish(
                broker.names().controlExchange(),
                Topology.STATUS_KEY,
                new AMQP.BasicProperties.Builder().build(),
                body);
          }
          return null;
        });
  }

  private record Replay(ControlLogReplay replay, Revocations revocations) {}

  /** A worker's start: a replay of the log with revocations of its own, caught up. */
  private Replay replay(Optional<ControlSigner> signer) throws Exception {
    return replay(signer, null);
  }

  /** A worker's start, then its following of the log with {@code periodic} checkpoints. */
  private Replay replay(Optional<ControlSigner> signer, ControlLogReplay.Periodic periodic)
      throws Exception {
    Revocations revocations = new Revocations();
    ControlLogReplay replay = newReplay(revocations, signer, refusal -> {}, periodic);
    assertThat(replay.startAndCatchUp(Duration.ofSeconds(30))).as("caught up").isTrue();
    return new Replay(replay, revocations);
  }

  /** A replay of this namespace's log, not started, closed with the test. */
  private ControlLogReplay newReplay(
      Revocations revocations,
      Optional<ControlSigner> signer,
      java.util.function.Consumer<String> onRefused,
      ControlLogReplay.Periodic periodic) {
    return newReplay(broker.connection(), revocations, signer, onRefused, periodic);
  }

  /**
   * {@link #newReplay(Revocations, Optional, java.util.function.Consumer,
   * ControlLogReplay.Periodic)} on that connection.
   */
  private ControlLogReplay newReplay(
      Connection connection,
      Revocations revocations,
      Optional<ControlSigner> signer,
      java.util.function.Consumer<String> onRefused,
      ControlLogReplay.Periodic periodic) {
    return newReplay(connection, revocations, signer, onRefused, periodic, (m, body, h) -> {});
  }

  /** The same, telling {@code heard} of the stops and kills it reads once caught up. */
  private ControlLogReplay newReplay(
      Connection connection,
      Revocations revocations,
      Optional<ControlSigner> signer,
      java.util.function.Consumer<String> onRefused,
      ControlLogReplay.Periodic periodic,
      ControlLogReplay.Heard heard) {
    return broker.own(
        new ControlLogReplay(
            connection,
            broker.topology(),
            revocations,
            new CommandVerifier(signer),
            onRefused,
            periodic,
            heard));
  }

  /** What {@code count} worker starts of an earlier version left: markers, one chunk each. */
  private void appendMarkers(int count) {
    for (int i = 0; i < count; i++) {
      broker.withConfirms(
          ch -> {
            ch.basicPublish("", log, markerProps(null), new byte[0]);
            return null;
          });
    }
  }

  /** A stop for a queued task, as {@code control stop --task ID} publishes it. */
  private void stop(String task, Optional<ControlSigner> signer) {
    byte[] body = stopBody(task);
    Map<String, Object> headers = new HashMap<>();
    signer.ifPresent(s -> headers.put(Headers.SIGNATURE, s.sign(body)));
    toControl(body, headers);
  }

  /** Publishes to the control exchange, confirmed: the log keeps it. */
  private void toControl(byte[] body, Map<String, Object> headers) {
    broker.withConfirms(
        ch -> {
          ch.basicPublish(
              broker.names().controlExchange(),
              "",
              new AMQP.BasicProperties.Builder().headers(headers).build(),
              body);
          return null;
        });
  }

  /** A pause for a worker that is not there: a command that the log keeps and no start honours. */
  private void pause(String worker) {
    byte[] body =
        ("{\"id\":\""
                + UUID.randomUUID()
                + "\",\"command\":\"pause\",\"target\":{\"workers\":[\""
                + worker
                + "\"]},\"issuedBy\":\"me@host\"}")
            .getBytes(StandardCharsets.UTF_8);
    toControl(body, Map.of());
  }

  private static byte[] stopBody(String task) {
    return ("{\"id\":\""
            + UUID.randomUUID()
            + "\",\"command\":\"stop\",\"target\":{\"tasks\":[\""
            + task
            + "\"]},\"issuedAt\":\""
            + Instant.now()
            + "\",\"issuedBy\":\"me@host\"}")
        .getBytes(StandardCharsets.UTF_8);
  }

  private static AMQP.BasicProperties markerProps(String signature) {
    Map<String, Object> headers = new HashMap<>();
    headers.put(Headers.MARKER, UUID.randomUUID().toString());
    if (signature != null) {
      headers.put(Headers.SIGNATURE, signature);
    }
    return new AMQP.BasicProperties.Builder().headers(headers).build();
  }

  private byte[] checkpointBody(long offset) {
    return new Checkpoint(offset, List.of()).body(log);
  }
}
