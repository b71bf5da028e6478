package dev.conveyor.protocol.events;

import dev.conveyor.protocol.wire.CommandApplied;
import dev.conveyor.protocol.wire.CommandRefused;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.WorkerEvent;

/** Anything published on {@code ns.events}, decoded by its routing key. */
public sealed interface Event {
  String routingKey();

  record Task(TaskEvent event) implements Event {
    @Override
    public String routingKey() {
      return event.routingKey();
    }
  }

  record Worker(WorkerEvent event) implements Event {
    @Override
    public String routingKey() {
      return event.routingKey();
    }
  }

  record Applied(CommandApplied event) implements Event {
    @Override
    public String routingKey() {
      return CommandApplied.ROUTING_KEY;
    }
  }

  record Refused(CommandRefused event) implements Event {
    @Override
    public String routingKey() {
      return CommandRefused.ROUTING_KEY;
    }
  }
}
