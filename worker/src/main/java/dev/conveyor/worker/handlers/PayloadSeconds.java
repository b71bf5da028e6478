package dev.conveyor.worker.handlers;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conveyor.worker.api.TaskRejectedException;

/** How long a {@code sleep} or {@code spin} task runs: its payload's {@code "seconds"}. */
final class PayloadSeconds {
  private PayloadSeconds() {}

  /**
   * {@code "seconds"}, a JSON number of at least 0, in nanoseconds. A span beyond what a {@code
   * long} counts in nanoseconds (about 292 years) is {@link Long#MAX_VALUE}, which outlasts any
   * deadline: such a task runs until it is ended, where a plain conversion would overflow and end
   * it at once as if it were done.
   *
   * @param type the task's type, for the refusal
   * @param missing the seconds of a payload that has none; negative: such a payload is refused
   * @throws TaskRejectedException for a string, {@code NaN}, a negative number or another JSON type
   */
  static long nanos(JsonNode payload, String type, double missing) throws TaskRejectedException {
    JsonNode seconds = payload.path("seconds");
    if (seconds.isMissingNode() && missing >= 0) {
      return toNanos(missing);
    }
    if (!seconds.isNumber() || !(seconds.asDouble() >= 0)) {
      throw new TaskRejectedException(
          type + " needs a payload {\"seconds\": N} with N a number >= 0");
    }
    return toNanos(seconds.asDouble());
  }

  private static long toNanos(double seconds) {
    double nanos = seconds * 1e9;
    return nanos >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) nanos;
  }
}
