package dev.conveyor.worker.control;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.testkit.LogCapture;
import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class RefusalStreakTest {

  @Test
  void aStreakOfRefusalsIsToldOnceAsItBeginsAndOnceAsItEnds() {
    try (LogCapture log = LogCapture.of(RefusalStreakTest.class)) {
      RefusalStreak streak =
          new RefusalStreak(
              LoggerFactory.getLogger(RefusalStreakTest.class),
              reason -> "refused: " + reason,
              "let in");
      streak.ended(); // no streak yet: nothing to tell
      assertThat(log.all()).isEmpty();

      streak.refused(new IOException("queue limit"));
      streak.refused(new IOException("queue limit again"));
      streak.refused(new IOException("and again"));
      assertThat(streak.on()).isTrue();
      assertThat(log.all()).containsExactly("WARN refused: queue limit");

      streak.ended();
      streak.ended();
      assertThat(streak.on()).isFalse();
      assertThat(log.all()).containsExactly("WARN refused: queue limit", "INFO let in");

      streak.refused(new IOException("a new streak"));
      assertThat(log.all())
          .containsExactly(
              "WARN refused: queue limit", "INFO let in", "WARN refused: a new streak");
    }
  }

  @Test
  void aStreakWithoutARecoveryMessageEndsSilently() {
    try (LogCapture log = LogCapture.of(RefusalStreakTest.class)) {
      RefusalStreak streak =
          new RefusalStreak(
              LoggerFactory.getLogger(RefusalStreakTest.class),
              reason -> "refused: " + reason,
              null);
      streak.refused(new IOException("no"));
      streak.ended();
      assertThat(streak.on()).isFalse();
      assertThat(log.all()).containsExactly("WARN refused: no");
    }
  }
}
