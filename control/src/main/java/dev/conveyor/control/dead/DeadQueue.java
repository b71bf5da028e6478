package dev.conveyor.control.dead;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.GetResponse;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.wire.Headers;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;

/**
 * Reads {@code ns.dead} without changing it. A quorum queue has no way to peek: a message read and
 * handed back (a closed channel, a requeue) counts as a delivery — RabbitMQ before 4.3 raises its
 * {@code x-delivery-count}, and 4.0–4.2 count it towards the default delivery limit of 20, past
 * which the letter is dropped — and one handed back while others stay out changes the order. So
 * every letter is read, held unacknowledged, and what must stay is {@link #putBack put back}: an
 * identical copy is published in the original order, and the originals are acknowledged only once
 * the broker confirmed the copies.
 */
public final class DeadQueue {
  private DeadQueue() {}

  private static final long CONFIRM_TIMEOUT_MS = 30_000;

  /**
   * Every message that was in the queue when called, in queue order, held unacknowledged by {@code
   * ch}. Letters that arrive meanwhile stay in the queue, ahead of whatever is put back.
   */
  public static List<DeadLetter> takeAll(Channel ch, Names names) throws IOException {
    long present = ch.queueDeclarePassive(names.deadQueue()).getMessageCount();
    List<DeadLetter> out = new ArrayList<>();
    GetResponse r;
    while (out.size() < present && (r = ch.basicGet(names.deadQueue(), false)) != null) {
      out.add(DeadLetter.of(r, names));
    }
    return out;
  }

  /**
   * The dead letters that {@code --all} or {@code --id} selects, of those {@link #takeAll} read.
   */
  public static List<DeadLetter> select(List<DeadLetter> letters, boolean all, Set<String> ids) {
    return letters.stream().filter(d -> all || (d.id() != null && ids.contains(d.id()))).toList();
  }

  /** {@code letters} without {@code taken}, in their order. */
  public static List<DeadLetter> except(List<DeadLetter> letters, List<DeadLetter> taken) {
    Set<Long> tags = new HashSet<>();
    taken.forEach(d -> tags.add(d.deliveryTag()));
    return letters.stream().filter(d -> !tags.contains(d.deliveryTag())).toList();
  }

  /** Ids asked for that are not in the queue. */
  public static List<String> missing(Set<String> ids, List<DeadLetter> found) {
    return ids.stream().filter(id -> found.stream().noneMatch(d -> id.equals(d.id()))).toList();
  }

  /**
   * Publishes a copy of each letter to {@code ns.dead} in the given order; call {@link
   * #confirmAndAck} after. The copies are the originals but for the broker's delivery count, so a
   * letter read by {@code control} looks as if it had never been read.
   *
   * @param ch a channel in confirm mode, the one that holds the originals
   */
  public static void putBack(Channel ch, Names names, List<DeadLetter> letters) throws IOException {
    for (DeadLetter d : letters) {
      ch.basicPublish(
          names.deadExchange(), "", unread(d.message().getProps()), d.message().getBody());
    }
  }

  /**
   * Waits until the broker confirmed everything published on {@code ch}, then acknowledges {@code
   * originals}. A failure leaves the originals unacknowledged: they return to the queue when the
   * channel closes, and copies already confirmed may then be there twice.
   */
  public static void confirmAndAck(Channel ch, List<DeadLetter> originals)
      throws IOException, InterruptedException {
    try {
      ch.waitForConfirmsOrDie(CONFIRM_TIMEOUT_MS);
    } catch (TimeoutException e) {
      throw new IOException("the broker did not confirm within " + CONFIRM_TIMEOUT_MS + " ms", e);
    }
    for (DeadLetter d : originals) {
      ch.basicAck(d.deliveryTag(), false);
    }
  }

  /** The properties without the delivery count that reading the letter added. */
  public static AMQP.BasicProperties unread(AMQP.BasicProperties props) {
    if (props.getHeaders() == null || !props.getHeaders().containsKey(Headers.DELIVERY_COUNT)) {
      return props;
    }
    Map<String, Object> headers = new HashMap<>(props.getHeaders());
    headers.remove(Headers.DELIVERY_COUNT);
    return props.builder().headers(headers).build();
  }
}
