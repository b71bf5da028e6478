package dev.conveyor.control;

import dev.conveyor.protocol.wire.CommandRefused;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Says what a worker's refusal means for the operator, and what to do about it. */
final class Refusals {
  private Refusals() {}

  /** The worker's reason followed by the fix, e.g. {@code unsigned — set CONVEYOR_CONTROL_KEY…}. */
  static String explain(String reason) {
    if (reason == null) {
      return "no reason given";
    }
    if (reason.equals("unsigned")) {
      return reason
          + " — set CONVEYOR_CONTROL_KEY (or --control-key-file) to the workers' key file";
    }
    if (reason.equals("bad signature")) {
      return reason + " — this control key is not the workers' key";
    }
    if (reason.startsWith("stale")) {
      return reason
          + " — the clocks of this host and the worker's differ by more than 60 s; sync them";
    }
    return reason;
  }

  static List<String> of(List<CommandRefused> refusals) {
    return lines(
        refusals.stream().map(r -> new CommandReport.Refused(r.worker(), r.reason())).toList());
  }

  /**
   * One phrase per distinct reason, e.g. {@code refused by s1, s2: unsigned — set …}.
   *
   * @param refusals in worker order
   */
  static List<String> lines(List<CommandReport.Refused> refusals) {
    Map<String, List<String>> byReason = new LinkedHashMap<>();
    for (CommandReport.Refused r : refusals) {
      byReason.computeIfAbsent(r.reason(), k -> new ArrayList<>()).add(r.worker());
    }
    List<String> out = new ArrayList<>();
    byReason.forEach(
        (reason, workers) ->
            out.add("refused by " + String.join(", ", workers) + ": " + explain(reason)));
    return out;
  }
}
