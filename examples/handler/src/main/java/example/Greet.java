package example;

import dev.conveyor.worker.api.TaskContext;
import dev.conveyor.worker.api.TaskHandler;
import dev.conveyor.worker.api.TaskRejectedException;
import java.time.Duration;

/**
 * Task type {@code greet}: payload {@code {"name":"ada","times":3}}, result {@code
 * {"greeting":"hello ada","times":3}}. It takes a short pause per greeting, during which a stop (or
 * a deadline) ends it cleanly.
 */
public class Greet implements TaskHandler {

  /** The payload, bound by the worker; properties it does not name are ignored. */
  public record Request(String name, Integer times) {}

  /** The result: anything the worker can write as JSON. */
  public record Greeting(String greeting, int times) {}

  @Override
  public String type() {
    return "greet";
  }

  @Override
  public Object handle(TaskContext ctx) throws Exception {
    Request request;
    try {
      request = ctx.payload(Request.class);
    } catch (IllegalArgumentException e) {
      throw new TaskRejectedException("the payload is not {\"name\":…,\"times\":…}");
    }
    if (request.name() == null || request.name().isBlank()) {
      throw new TaskRejectedException("the payload has no name"); // never retried: dead at once
    }
    int times = request.times() == null ? 1 : request.times();
    for (int i = 1; i <= times; i++) {
      if (ctx.token().await(Duration.ofMillis(10))) {
        ctx.token().throwIfCancelled(); // stopped: the worker reports the real cause
      }
      ctx.progress((double) i / times);
    }
    System.out.println("greeted " + request.name()); // reaches the worker's log, with the task id
    return new Greeting("hello " + request.name(), times);
  }
}
