package dev.conveyor.dashboard;

import io.javalin.http.sse.SseClient;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The browsers following the page over Server-Sent Events, each with its user's role, the {@link
 * View} it shows (its pages of the long tables) and the parts of the page it was last sent.
 */
final class SseHub {
  private static final Logger log = LoggerFactory.getLogger(SseHub.class);

  /**
   * One browser; {@code sent} holds, by part name, the HTML it has now; only the push thread
   * touches it.
   */
  record Client(SseClient sse, Role role, View view, Map<String, String> sent) {
    Client(SseClient sse, Role role, View view) {
      this(sse, role, view, new HashMap<>());
    }
  }

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
  void admit(Function<Client, String> state, Supplier<String> history) {
    Client c;
    while ((c = joining.poll()) != null) {
      try {
        c.sse().sendEvent("state", state.apply(c));
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

  /** Sends each client what {@code data} makes for it, unless that is null (nothing new for it). */
  void sendEach(String event, Function<Client, String> data) {
    for (Client c : clients) {
      try {
        if (c.sse().terminated()) {
          clients.remove(c);
          continue;
        }
        String d = data.apply(c);
        if (d != null) {
          c.sse().sendEvent(event, d);
        }
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
