package dev.conveyor.worker.messaging;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SettlerHistoryTest {

  private static List<String> entries(int from, int to) {
    return IntStream.range(from, to).mapToObj(i -> "entry " + i).toList();
  }

  @Test
  void aShortHistoryIsExtendedAsItIs() {
    assertThat(Settler.history(List.of("a", "b"), "c")).containsExactly("a", "b", "c");
    assertThat(Settler.history(null, "first")).containsExactly("first");
    assertThat(Settler.history("not a list", "first")).containsExactly("first");
  }

  /**
   * A task requeued without using an attempt (a shutdown, a lost connection, a stop with requeue)
   * may come back any number of times: its history keeps the newest entries and counts the rest.
   */
  @Test
  void aTaskRequeuedAgainAndAgainKeepsABoundedHistory() {
    List<String> history = List.of();
    for (int i = 0; i < 1000; i++) {
      history = Settler.history(history, "entry " + i);
    }
    assertThat(history).hasSize(Settler.HISTORY_LIMIT);
    assertThat(history.get(0)).isEqualTo("earlier entries not kept: " + (1000 - 49));
    assertThat(history.subList(1, history.size())).isEqualTo(entries(1000 - 49, 1000));
  }

  /** A producer may send any header: a huge one is cut down, entries and all. */
  @Test
  void aHostileHistoryIsCutDown() {
    List<Object> hostile = new ArrayList<>(entries(0, 10_000));
    hostile.set(9_999, "x".repeat(1_000_000));
    List<String> history = Settler.history(hostile, "mine");
    assertThat(history).hasSize(Settler.HISTORY_LIMIT);
    assertThat(history.get(0)).isEqualTo("earlier entries not kept: " + (10_000 + 1 - 49));
    assertThat(history.get(history.size() - 2)).hasSizeLessThanOrEqualTo(1001);
    assertThat(history.get(history.size() - 1)).isEqualTo("mine");
    assertThat(Settler.history(List.of("earlier entries not kept: x"), "mine"))
        .containsExactly("earlier entries not kept: x", "mine");
    for (String made : List.of("-5", Long.toString(Long.MAX_VALUE))) {
      List<String> headed = new ArrayList<>(List.of("earlier entries not kept: " + made));
      headed.addAll(entries(0, 60));
      // Not a count of ours: an entry, which goes with the 12 oldest others.
      assertThat(Settler.history(headed, "mine").get(0)).isEqualTo("earlier entries not kept: 13");
    }
  }
}
