package dev.conveyor.control;

import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.protocol.wire.WorkerStatus;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * Sends one stop, kill, pause or resume and follows what the workers make of it: find the live
 * workers with a status round, subscribe to the acknowledgements before publishing, publish, then
 * wait until every one of them acknowledged and every task they ended has settled.
 */
final class Broadcast {
  private Broadcast() {}

  /** Runs the broadcast as the command-line options ask. */
  static CommandReport run(ControlSession session, ControlMessage message, BroadcastOptions options)
      throws IOException, InterruptedException {
    return run(
        session,
        message,
        options.discoverTimeout,
        !options.noWait,
        options.waitTimeout(message.command()));
  }

  private static CommandReport run(
      ControlSession session,
      ControlMessage message,
      Duration discoverFor,
      boolean wait,
      Duration waitTimeout)
      throws IOException, InterruptedException {
    Target whom = message.target() instanceof Target.Workers w ? w : Target.all();
    StatusRound.Result round = session.status(whom, discoverFor);
    List<String> live = round.statuses().stream().map(WorkerStatus::worker).toList();
    // A worker that refused the status request will refuse the command too; its refusal of the
    // command is what is reported, waited for like an acknowledgement.
    CommandTracker tracker = new CommandTracker(message.id(), round.answered());
    try (EventSubscription events =
        EventSubscription.open(
            session.connection(),
            session.topology(),
            List.of(
                "task.*",
                CommandApplied.ROUTING_KEY,
                CommandRefused.ROUTING_KEY,
                "worker." + WorkerEvent.TERMINATING),
            tracker::accept)) {
      tracker.publishing();
      session.publish(message);
      if (wait) {
        tracker.await(waitTimeout);
      }
    }
    return CommandReport.of(message, live, round.refusals(), tracker, wait, waitTimeout);
  }
}
