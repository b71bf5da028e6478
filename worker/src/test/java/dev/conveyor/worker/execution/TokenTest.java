package dev.conveyor.worker.execution;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conveyor.worker.api.TaskCancelledException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TokenTest {

  @Test
  void aWaiterWakesAsSoonAsTheTokenIsCancelled() throws Exception {
    Token token = new Token();
    CountDownLatch woke = new CountDownLatch(1);
    Thread waiter =
        new Thread(
            () -> {
              try {
                if (token.await(Duration.ofMinutes(1))) {
                  woke.countDown();
                }
              } catch (InterruptedException ignored) {
                // test ends
              }
            });
    waiter.start();
    token.cancel("user-stop");
    assertThat(woke.await(5, TimeUnit.SECONDS)).isTrue();
    waiter.join();
  }

  @Test
  void listenersRunOnceEvenWhenAddedLate() throws Exception {
    Token token = new Token();
    AtomicInteger calls = new AtomicInteger();
    token.onCancel(calls::incrementAndGet);
    assertThat(token.cancel("deadline")).isTrue();
    assertThat(token.cancel("again")).isFalse();
    token.onCancel(calls::incrementAndGet);
    assertThat(calls).hasValue(2);
    assertThat(token.reason()).isEqualTo("deadline");
    assertThatThrownBy(token::throwIfCancelled).isInstanceOf(TaskCancelledException.class);
  }
}
