package dev.conveyor.producer;

import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The broker did not take responsibility for some tasks: it refused them (nack), could not route
 * them (returned), or the connection went before it confirmed them. Tasks confirmed before the
 * failure were handed to the caller's callback and are safely queued; the ones named here may or
 * may not have been enqueued and should be checked or republished.
 */
public class PublishException extends IOException {

  private final Map<String, String> failed;
  private final long confirmed;

  public PublishException(Map<String, String> failed, long confirmed) {
    super(describe(failed, confirmed));
    this.failed = Collections.unmodifiableMap(new LinkedHashMap<>(failed));
    this.confirmed = confirmed;
  }

  /** Task id → why it was not confirmed, in publish order. */
  public Map<String, String> failed() {
    return failed;
  }

  /** How many tasks of the same call were confirmed before publishing stopped. */
  public long confirmedCount() {
    return confirmed;
  }

  private static String describe(Map<String, String> failed, long confirmed) {
    String which =
        failed.entrySet().stream()
            .limit(3)
            .map(e -> e.getKey() + ": " + e.getValue())
            .collect(Collectors.joining("; "));
    String more = failed.size() > 3 ? "; and " + (failed.size() - 3) + " more" : "";
    return failed.size()
        + (failed.size() == 1 ? " task was" : " tasks were")
        + " not confirmed by the broker ("
        + which
        + more
        + "); "
        + confirmed
        + " confirmed before publishing stopped";
  }
}
