package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;

/**
 * A worker's acknowledgement of one control message, published as {@code command.applied}: it lets
 * {@code control} report per worker what happened instead of hoping.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CommandApplied(
    String command,
    Command verb,
    String worker,
    List<String> stopped,
    List<String> killed,
    List<String> revoked,
    boolean paused,
    Instant at,
    String issuedBy) {

  public static final String ROUTING_KEY = "command.applied";

  /** True when the command touched no running task on this worker. */
  public boolean matchedNothing() {
    return (stopped == null || stopped.isEmpty()) && (killed == null || killed.isEmpty());
  }
}
