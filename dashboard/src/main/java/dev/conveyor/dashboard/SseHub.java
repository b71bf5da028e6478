package dev.conveyor.dashboard;

import io.javalin.http.sse.SseClient;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The browsers following the page over Server-Sent Events, each with its user's role. */
final class SseHub {
  private static final Logger log = LoggerFactory.getLogger(SseHub.class);

  record Client(SseClient sse, Role role) {}

  private final List<Client> clients = new CopyOnWriteArrayList<>();
  private final Queue<Client> joining = new ConcurrentLinkedQueue<>();

  /** A browser that connected; it is sent the whole state by {@link #admit} on the push thread. */
  void add(Client c) {
    joining.add(c);
    c.sse().onClose(() -> clients.remove(c));
  }

  /**
   * Sends each browser that joined since the last call the state for its role, then lets it have
   * every update: all writes to a browser happen on the one push thread.
   */
  void admit(Function<Role, String> state, Supplier<String> history) {
    Client c;
    while ((c = joining.poll()) != null) {
      try {
        c.sse().sendEvent("state", state.apply(c.role()));
        c.sse().sendEvent("history", history.get());
        clients.add(c);
      } catch (RuntimeException e) {
        log.debug("a browser went away while joining: {}", e.toString());
      }
    }
  }

  int size() {
    return clients.size();
  }

  /** Sends to every client whose role is {@code role} (null: everybody). */
  void send(Role role, String event, String data) {
    for (Client c : clients) {
      if (role != null && c.role() != role) {
        continue;
      }
      try {
        if (c.sse().terminated()) {
          clients.remove(c);
          continue;
        }
        c.sse().sendEvent(event, data);
      } catch (RuntimeException e) {
        log.debug("dropping a browser that went away: {}", e.toString());
        clients.remove(c);
        c.sse().close();
      }
    }
  }

  void closeAll() {
    for (Client c : clients) {
      try {
        c.sse().close();
      } catch (RuntimeException e) {
        // already gone
      }
    }
    clients.clear();
  }
}
