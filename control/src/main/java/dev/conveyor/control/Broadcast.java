package dev.conveyor.control;

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
 * Sends one stop, kill, pause or resume and follows what the workers make of it. The command acts
 * first: the acknowledgements are subscribed to and the command published before anything else; the
 * status round that finds the live workers (whom to wait for) runs beside it. The command then
 * waits until that round ended, every worker it found acknowledged and every task they ended has
 * settled, or the wait is over.
 */
final class Broadcast {
  private Broadcast() {}

  /** Runs the broadcast as the command-line options ask. */
  static CommandReport run(
      ControlSession session, Prepared.Outgoing outgoing, BroadcastOptions options)
      throws IOException, InterruptedException {
    return run(
        session,
        outgoing,
        options.discoverTimeout(),
        !options.noWait(),
        options.waitTimeout(outgoing.message().command()));
  }

  private static CommandReport run(
      ControlSession session,
      Prepared.Outgoing outgoing,
      Duration discoverFor,
      boolean wait,
      Duration waitTimeout)
      throws IOException, InterruptedException {
    ControlMessage message = outgoing.message();
    Target whom = message.target() instanceof Target.Workers w ? w : Target.all();
    CommandTracker tracker = new CommandTracker(message.id());
    StatusRound.Result round;
    // A stop or kill for a task not running yet must be remembered: the control log, which keeps
    // only such commands (Topology.routingKey).
    boolean revokes = message.revokesTasks();
    // The status round hears refusals of its request through the command's subscription.
    EventRelay toDiscovery = new EventRelay();
    try (ControlSession.CommandChannel command =
            session.commandChannel(
                revokes,
                List.of(
                    "task.*",
                    CommandApplied.ROUTING_KEY,
                    CommandRefused.ROUTING_KEY,
                    "worker." + WorkerEvent.TERMINATING),
                event -> {
                  tracker.accept(event);
                  toDiscovery.accept(event);
                });
        Discovery discovery = new Discovery(session, whom, discoverFor, tracker, toDiscovery)) {
      tracker.publishing();
      command.publish(outgoing, discovery::start);
      if (wait) {
        // A worker that refused the status request refuses the command too; its refusal of the
        // command is what is reported, waited for like an acknowledgement. When the wait is over
        // the round ends with whoever it found.
        tracker.await(waitTimeout);
        discovery.close();
      }
      round = discovery.finish();
    }
    List<String> live = round.statuses().stream().map(WorkerStatus::worker).toList();
    return CommandReport.of(
        message, live, round.refusals(), round.silent(), tracker, wait, waitTimeout);
  }
}
