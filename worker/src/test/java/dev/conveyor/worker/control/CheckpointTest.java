package dev.conveyor.worker.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** A control log checkpoint's body: what it carries, what it reads, and when it carries nothing. */
class CheckpointTest {

  private static final String LOG = "ns.control.log";

  private static Checkpoint.Stop stop(long offset, String signature) {
    return new Checkpoint.Stop(
        offset,
        ("{\"command\":\"stop\",\"target\":{\"tasks\":[\"t-" + offset + "\"]}}")
            .getBytes(StandardCharsets.UTF_8),
        signature);
  }

  @Test
  void whatItCarriesIsReadBackAsWritten() {
    Checkpoint written = new Checkpoint(42, List.of(stop(3, "ab12"), stop(7, null)));

    Checkpoint read = Checkpoint.parse(LOG, written.body(LOG)).orElseThrow();

    assertThat(read.from()).isEqualTo(42);
    assertThat(read.stops()).hasSize(2);
    assertThat(read.stops().get(0).offset()).isEqualTo(3);
    assertThat(read.stops().get(0).signature()).isEqualTo("ab12");
    assertThat(read.stops().get(0).body()).isEqualTo(stop(3, null).body());
    assertThat(read.stops().get(1).signature()).isNull();
  }

  /** What workers of the version before wrote, and read: one line. */
  @Test
  void oneThatCarriesNothingIsTheOneLineEarlierWorkersWrite() {
    assertThat(new String(new Checkpoint(42, List.of()).body(LOG), StandardCharsets.US_ASCII))
        .isEqualTo("replay ns.control.log from 42");
    assertThat(
            Checkpoint.parse(LOG, "replay ns.control.log from 9".getBytes(StandardCharsets.UTF_8)))
        .hasValueSatisfying(c -> assertThat(c.from()).isEqualTo(9));
  }

  @Test
  void aWorkerCarriesTheStopsBeforeItsMarkerAndReadsFromTheMarker() {
    Checkpoint c = Checkpoint.after(100, List.of(stop(5, null), stop(120, null)), LOG);

    assertThat(c.from()).isEqualTo(100);
    assertThat(c.stops()).extracting(Checkpoint.Stop::offset).containsExactly(5L);
  }

  @Test
  void stopsTooManyToCarryAreReadFromTheOldestOfThemInstead() {
    List<Checkpoint.Stop> many =
        LongStream.range(10, 3_000).mapToObj(i -> stop(i, "ab".repeat(32))).toList();

    Checkpoint c = Checkpoint.after(5_000, many, LOG);

    assertThat(c.from()).isEqualTo(10);
    assertThat(c.stops()).isEmpty();
    assertThat(c.body(LOG).length).isLessThan(Checkpoint.MAX_BYTES);
  }

  @Test
  void anotherLogsCheckpointOrAMalformedOneIsNone() {
    byte[] other = new Checkpoint(1, List.of()).body("other.control.log");
    assertThat(Checkpoint.parse(LOG, other)).isEmpty();
    for (String body :
        List.of(
            "replay ns.control.log from x",
            "replay ns.control.log from -1",
            "replay ns.control.log from 4\n3 -",
            "replay ns.control.log from 4\nx - e30=",
            "replay ns.control.log from 4\n3 - not*base64")) {
      assertThat(Checkpoint.parse(LOG, body.getBytes(StandardCharsets.UTF_8))).as(body).isEmpty();
    }
  }
}
