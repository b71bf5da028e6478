package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

/**
 * A worker's answer to a control message it would not obey (unsigned, mis-signed or stale under a
 * control key), published as {@code command.refused}: without it the sender cannot tell a refusal
 * from silence. Its own routing key, so that readers of {@code command.applied} never mistake a
 * refusal for an application.
 *
 * @param reason why, as the worker's verifier puts it: {@code unsigned}, {@code bad signature},
 *     {@code stale (issued N s ago)} or {@code no issuedAt}
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CommandRefused(
    String command, Command verb, String worker, String reason, Instant at, String issuedBy) {

  public static final String ROUTING_KEY = "command.refused";
}
