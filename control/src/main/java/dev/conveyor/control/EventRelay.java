package dev.conveyor.control;

import dev.conveyor.protocol.events.Event;
import java.util.function.Consumer;

/**
 * Hands on what a command's own subscription hears to the status round that runs beside it, while
 * the round follows: the command's subscription is bound to refusals already, so the round needs no
 * queue, binding and consumer of its own before its request can go out. One follower at a time.
 */
final class EventRelay implements Consumer<Event>, ControlSession.RefusalFeed {
  private volatile Consumer<Event> follower;

  /** Called on the subscription's consumer thread. */
  @Override
  public void accept(Event event) {
    Consumer<Event> f = follower;
    if (f != null) {
      f.accept(event);
    }
  }

  @Override
  public ControlSession.Following follow(Consumer<Event> listener) {
    follower = listener;
    return () -> follower = null;
  }
}
