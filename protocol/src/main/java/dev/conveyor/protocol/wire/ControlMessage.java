package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

/** A broadcast on {@code ns.control}; every worker decides for itself whether it matches. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ControlMessage(
    String id,
    Command command,
    Target target,
    boolean requeue,
    Instant issuedAt,
    String issuedBy) {}
