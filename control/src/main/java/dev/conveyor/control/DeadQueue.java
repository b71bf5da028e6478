package dev.conveyor.control;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.topology.Names;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Reads {@code ns.dead} without consuming it: messages are fetched unacknowledged and stay with the
 * channel, so whatever is not acknowledged returns to the queue when the channel closes.
 */
final class DeadQueue {
  private DeadQueue() {}

  /** Up to {@code limit} messages, held unacknowledged by {@code ch}. */
  static List<DeadLetter> take(Channel ch, Names names, int limit) throws IOException {
    List<DeadLetter> out = new ArrayList<>();
    GetResponse r;
    while (out.size() < limit && (r = ch.basicGet(names.deadQueue(), false)) != null) {
      out.add(DeadLetter.of(r, names));
    }
    return out;
  }

  /** The dead letters that {@code --all} or {@code --id} selects, fetched as by {@link #take}. */
  static List<DeadLetter> select(Channel ch, Names names, boolean all, Set<String> ids)
      throws IOException {
    return take(ch, names, Integer.MAX_VALUE).stream()
        .filter(d -> all || (d.id() != null && ids.contains(d.id())))
        .toList();
  }

  /** Ids asked for that are not in the queue. */
  static List<String> missing(Set<String> ids, List<DeadLetter> found) {
    return ids.stream().filter(id -> found.stream().noneMatch(d -> id.equals(d.id()))).toList();
  }
}
