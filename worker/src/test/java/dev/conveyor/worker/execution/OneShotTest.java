package dev.conveyor.worker.execution;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class OneShotTest {

  private final List<RuntimeException> failures = new CopyOnWriteArrayList<>();
  private final ExecutorService racers =
      Executors.newFixedThreadPool(2, r -> new Thread(r, "oneshot-racer"));

  @AfterEach
  void close() throws InterruptedException {
    racers.shutdownNow();
    assertThat(racers.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void actionsRunOnceWhenFiredAndLateOnesAtOnce() {
    OneShot shot = new OneShot(failures::add);
    AtomicInteger early = new AtomicInteger();
    AtomicInteger late = new AtomicInteger();
    shot.add(early::incrementAndGet);
    assertThat(early).hasValue(0);
    shot.fire();
    assertThat(early).hasValue(1);
    shot.add(late::incrementAndGet);
    assertThat(late).hasValue(1);
    shot.fire();
    assertThat(early).hasValue(1);
    assertThat(late).hasValue(1);
    assertThat(shot.fired()).isTrue();
  }

  @Test
  void aFailingActionDoesNotStopTheOthers() {
    OneShot shot = new OneShot(failures::add);
    AtomicInteger ran = new AtomicInteger();
    shot.add(
        () -> {
          throw new IllegalStateException("boom");
        });
    shot.add(ran::incrementAndGet);
    shot.fire();
    assertThat(ran).hasValue(1);
    assertThat(failures).singleElement().extracting(Throwable::getMessage).isEqualTo("boom");
  }

  /**
   * Registration and firing race from two threads (with a second firing thrown in), ten thousand
   * times: every action, the same instance added twice included, runs exactly once per add.
   */
  @Test
  void addAndFireRacingRunEveryActionExactlyOnce() throws Exception {
    for (int i = 0; i < 10_000; i++) {
      OneShot shot = new OneShot(failures::add);
      AtomicInteger before = new AtomicInteger();
      AtomicInteger racing = new AtomicInteger();
      AtomicInteger twice = new AtomicInteger();
      Runnable twiceAction = twice::incrementAndGet;
      shot.add(before::incrementAndGet);
      AtomicInteger waiting = new AtomicInteger(2);
      Future<?> adder =
          racers.submit(
              () -> {
                spinBarrier(waiting);
                shot.add(racing::incrementAndGet);
                shot.add(twiceAction);
                shot.add(twiceAction);
              });
      Future<?> firer =
          racers.submit(
              () -> {
                spinBarrier(waiting);
                shot.fire();
                shot.fire();
              });
      adder.get(10, TimeUnit.SECONDS);
      firer.get(10, TimeUnit.SECONDS);
      assertThat(before).as("round %d", i).hasValue(1);
      assertThat(racing).as("round %d", i).hasValue(1);
      assertThat(twice).as("round %d", i).hasValue(2);
    }
    assertThat(failures).isEmpty();
  }

  private static void spinBarrier(AtomicInteger waiting) {
    waiting.decrementAndGet();
    long until = System.nanoTime() + 200_000;
    while (waiting.get() > 0 && System.nanoTime() < until) {
      Thread.onSpinWait();
    }
  }
}
