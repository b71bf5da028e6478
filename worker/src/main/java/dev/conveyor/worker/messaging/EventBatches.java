package dev.conveyor.worker.messaging;

import com.rabbitmq.client.AMQP;
import dev.conveyor.protocol.wire.EventEncoder;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.worker.execution.ResultLeftOut;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Turns what queued up for the events thread into as few AMQP messages as order allows: the task
 * events that share a routing key go out as one JSON array (docs/protocol.md), at most {@link
 * #MAX_EVENTS} events or {@link #MAX_BYTES} bytes each; one event alone stays a plain object.
 *
 * <p>Order. Messages are published in the order of the list this returns, on one channel, so a
 * reader sees them in that order. Each task event goes into the latest batch of its routing key
 * unless that batch comes before the batch holding the previous event of the same task; then it
 * starts a new batch at the end. Either way no event of a task lands before an earlier one of that
 * task, so a reader that binds {@code task.*} never sees a task's {@code succeeded} before its
 * {@code running}. Under load the queue interleaves many tasks' {@code running} and {@code
 * succeeded}; this puts all of them in two messages, where cutting at every change of routing key
 * would send almost one message per event. Order between different tasks is not kept (no reader
 * relies on it). Everything that is not a task event — worker events, command answers, replies —
 * goes alone and is a barrier: nothing queued after it is sent before it, nor the reverse. Those
 * are few (heartbeats, one answer per command), and answers must not wait behind or merge with
 * events.
 */
final class EventBatches {

  static final int MAX_EVENTS = 500;
  static final int MAX_BYTES = 256 * 1024;

  private EventBatches() {}

  /**
   * Something to publish.
   *
   * @param body the encoded message; null for a task event not encoded yet ({@link #encoded})
   * @param task the task a task event is about ("" for one without an id), {@code null} for
   *     anything else: only task events are batched
   * @param event the task event to encode, while {@code body} is null
   */
  record Item(
      String exchange,
      String routingKey,
      AMQP.BasicProperties props,
      byte[] body,
      String task,
      TaskEvent event) {

    Item(String exchange, String routingKey, AMQP.BasicProperties props, byte[] body, String task) {
      this(exchange, routingKey, props, body, task, null);
    }

    /** A task event, encoded later, on the thread that publishes it. */
    static Item task(String exchange, AMQP.BasicProperties props, String task, TaskEvent event) {
      return new Item(exchange, event.routingKey(), props, null, task, event);
    }

    /**
     * This item with its body encoded (by the encoder of the thread that publishes it), without its
     * result if it comes to more than {@link ResultLeftOut#MAX_EVENT_BYTES}.
     */
    Item encoded(EventEncoder encoder) {
      if (body != null || event == null) {
        return this;
      }
      byte[] encoded = encoder.encode(event);
      if (encoded.length > ResultLeftOut.MAX_EVENT_BYTES && event.result() != null) {
        encoded = encoder.encode(withoutResult(event, new ResultLeftOut(encoded.length)));
      }
      return new Item(exchange, routingKey, props, encoded, task, null);
    }

    private static TaskEvent withoutResult(TaskEvent e, ResultLeftOut left) {
      return new TaskEvent(
          e.task(),
          e.type(),
          e.state(),
          e.worker(),
          e.attempt(),
          e.at(),
          e.durationMs(),
          e.cause(),
          left.appendedTo(e.reason()),
          e.issuedBy(),
          e.queue(),
          null);
    }

    boolean batchable() {
      return task != null;
    }
  }

  /**
   * An AMQP message to publish.
   *
   * @param events how many events its body holds
   */
  record Message(
      String exchange, String routingKey, AMQP.BasicProperties props, byte[] body, int events) {}

  /**
   * The messages for these items, in the order to publish them; task events queued unencoded are
   * encoded here, by {@code encoder}, on the thread that publishes them. An event that cannot be
   * encoded goes to {@code unencodable} and is left out: the events thread that calls this must not
   * end with it, and the rest still go.
   */
  static List<Message> of(
      List<Item> queued, EventEncoder encoder, BiConsumer<Item, RuntimeException> unencodable) {
    List<Batch> batches = new ArrayList<>();
    Map<String, Integer> openByKey = new HashMap<>();
    Map<String, Integer> lastOfTask = new HashMap<>();
    for (Item unencoded : queued) {
      Item item;
      try {
        item = unencoded.encoded(encoder);
      } catch (RuntimeException e) {
        unencodable.accept(unencoded, e);
        continue;
      }
      if (!item.batchable()) {
        batches.add(new Batch(item));
        openByKey.clear(); // a barrier: later events go after it
        continue;
      }
      Integer open = openByKey.get(item.routingKey());
      int previous = lastOfTask.getOrDefault(item.task(), -1);
      int index;
      if (open != null && open >= previous && batches.get(open).fits(item)) {
        index = open;
        batches.get(index).add(item);
      } else {
        index = batches.size();
        batches.add(new Batch(item));
        openByKey.put(item.routingKey(), index);
      }
      lastOfTask.put(item.task(), index);
    }
    return batches.stream().map(Batch::message).toList();
  }

  private static final class Batch {
    private final List<Item> items = new ArrayList<>();

    /** The size of the array: brackets, bodies and the commas between them. */
    private int bytes = 1;

    Batch(Item first) {
      add(first);
    }

    boolean fits(Item item) {
      return items.size() < MAX_EVENTS && bytes + 1 + item.body().length <= MAX_BYTES;
    }

    void add(Item item) {
      items.add(item);
      bytes += 1 + item.body().length;
    }

    Message message() {
      Item first = items.getFirst();
      if (items.size() == 1) {
        return new Message(first.exchange(), first.routingKey(), first.props(), first.body(), 1);
      }
      byte[] body = new byte[bytes];
      int at = 0;
      for (Item item : items) {
        body[at] = (byte) (at == 0 ? '[' : ',');
        System.arraycopy(item.body(), 0, body, at + 1, item.body().length);
        at += 1 + item.body().length;
      }
      body[at] = ']';
      return new Message(first.exchange(), first.routingKey(), first.props(), body, items.size());
    }
  }
}
