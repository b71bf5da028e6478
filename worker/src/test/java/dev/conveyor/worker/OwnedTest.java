package dev.conveyor.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class OwnedTest {

  @Test
  void whatWasOpenedLastIsClosedFirstAndEachOnce() {
    List<String> closedInOrder = new CopyOnWriteArrayList<>();
    Owned owned = new Owned();
    for (String name : List.of("executor", "connection", "channel")) {
      owned.add(name, () -> closedInOrder.add(name));
    }

    owned.close();
    owned.close();

    assertThat(closedInOrder).containsExactly("channel", "connection", "executor");
  }

  @Test
  void oneThatFailsToCloseLeavesTheOthersToClose() {
    List<String> closed = new CopyOnWriteArrayList<>();
    Owned owned = new Owned();
    owned.add("first", () -> closed.add("first"));
    owned.add(
        "broken",
        () -> {
          throw new IllegalStateException("will not close");
        });
    owned.add("last", () -> closed.add("last"));

    owned.close();

    assertThat(closed).containsExactly("last", "first");
  }

  @Test
  void addReturnsWhatItOwns() {
    Owned owned = new Owned();
    AutoCloseable resource = () -> {};
    assertThat(owned.add("resource", resource)).isSameAs(resource);
  }
}
