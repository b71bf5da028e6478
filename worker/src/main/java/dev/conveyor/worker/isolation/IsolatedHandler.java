package dev.conveyor.worker.isolation;

import dev.conveyor.worker.api.TaskCancelledException;
import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;
import dev.conveyor.worker.api.TaskRejectedException;
import dev.conveyor.worker.execution.ResultLeftOut;
import dev.conveyor.worker.execution.TaskRun;

/**
 * Runs a task type in a child JVM from the pool: to the worker's task thread, escalation ladder and
 * watchdog it is a handler like any other. The token's cancellation goes to the child as a stop
 * frame; a kill ends the child's process tree; the child's answer, or how it died, becomes the
 * handler's return or exception.
 */
public final class IsolatedHandler implements TaskHandler {
  private final String type;
  private final ChildPool pool;

  public IsolatedHandler(String type, ChildPool pool) {
    this.type = type;
    this.pool = pool;
  }

  @Override
  public String type() {
    return type;
  }

  @Override
  public Object handle(TaskContext ctx) throws Exception {
    Child child = pool.take();
    if (ctx instanceof TaskRun run) { // control status and heartbeats show the child
      run.runsIn(child::status);
    }
    Child.Reply reply;
    try {
      reply = child.run(ctx);
    } finally {
      pool.giveBack(child);
    }
    return switch (reply) {
      case Child.Answered(Frame.Result r) when r.leftOutBytes() != null ->
          new ResultLeftOut(r.leftOutBytes());
      case Child.Answered(Frame.Result r) ->
          r.value() == null || r.value().isNull() ? null : r.value();
      case Child.Answered(Frame.Error e) ->
          throw switch (e.kind()) {
            case Frame.Error.REJECTED -> new TaskRejectedException(e.message());
            case Frame.Error.CANCELLED -> new TaskCancelledException(e.message());
            default -> new ChildTaskFailedException(e.message());
          };
      case Child.Answered a -> throw new IllegalStateException("unexpected reply " + a.frame());
      case Child.Died d when d.killed() ->
          throw new TaskCancelledException("the child JVM " + child.pid() + " was killed");
      case Child.Died d ->
          throw new ChildCrashedException(ChildCrashedException.reason(d, pool.heap()));
    };
  }

  /** The handler threw in the child: its message, as a thread's exception would give it. */
  static final class ChildTaskFailedException extends RuntimeException {
    ChildTaskFailedException(String message) {
      super(message);
    }
  }
}
