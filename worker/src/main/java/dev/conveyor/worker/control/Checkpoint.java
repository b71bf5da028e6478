package dev.conveyor.worker.control;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

/**
 * A control log checkpoint: the offset from which a starting worker reads the log, and the stops
 * still honoured that came before it, carried in the checkpoint itself so that a start need not
 * read back to them. Its body is text: a first line {@code replay <log> from <offset>} (all a
 * checkpoint holds when it carries nothing, and all that workers of an earlier version read), then
 * one line per carried stop: its offset in the log, its signature ({@code -} if none) and its body
 * in base64, as the control exchange received them, so that each is verified like the entry itself.
 *
 * @param from the offset from which the log holds every stop still honoured that is not carried
 * @param stops stops still honoured from before {@code from}
 */
record Checkpoint(long from, List<Stop> stops) {

  /** A stop or kill for tasks as the log holds it. */
  record Stop(long offset, byte[] body, String signature) {}

  /** The most a checkpoint carries; past it, it names the oldest stop's offset instead. */
  static final int MAX_BYTES = 64 * 1024;

  Checkpoint {
    stops = List.copyOf(stops);
  }

  byte[] body(String log) {
    StringBuilder text = new StringBuilder(prefix(log)).append(from);
    for (Stop s : stops) {
      text.append('\n')
          .append(s.offset())
          .append(' ')
          .append(s.signature() == null ? "-" : s.signature())
          .append(' ')
          .append(Base64.getEncoder().encodeToString(s.body()));
    }
    return text.toString().getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * The checkpoint a worker appends once caught up: from its own marker, carrying the stops it read
   * before it; or, when those would not fit in {@link #MAX_BYTES}, from the oldest of them,
   * carrying none.
   */
  static Checkpoint after(long marker, List<Stop> honoured, String log) {
    List<Stop> before = honoured.stream().filter(s -> s.offset() < marker).toList();
    Checkpoint carrying = new Checkpoint(marker, before);
    if (carrying.body(log).length <= MAX_BYTES) {
      return carrying;
    }
    long oldest = before.stream().mapToLong(Stop::offset).min().orElse(marker);
    return new Checkpoint(Math.max(0, oldest), List.of());
  }

  /** The checkpoint this body holds for this log, if it is one; its signature is checked apart. */
  static Optional<Checkpoint> parse(String log, byte[] body) {
    String text = new String(body, StandardCharsets.US_ASCII);
    String prefix = prefix(log);
    if (!text.startsWith(prefix)) {
      return Optional.empty();
    }
    String[] lines = text.substring(prefix.length()).split("\n", -1);
    try {
      long from = Long.parseLong(lines[0]);
      if (from < 0) {
        return Optional.empty();
      }
      List<Stop> stops = new ArrayList<>(lines.length - 1);
      for (int i = 1; i < lines.length; i++) {
        String[] parts = lines[i].split(" ", -1);
        if (parts.length != 3) {
          return Optional.empty();
        }
        stops.add(
            new Stop(
                Long.parseLong(parts[0]),
                Base64.getDecoder().decode(parts[2]),
                parts[1].equals("-") ? null : parts[1]));
      }
      return Optional.of(new Checkpoint(from, stops));
    } catch (IllegalArgumentException e) { // a number or base64 that is not one
      return Optional.empty();
    }
  }

  /**
   * What every checkpoint of this log starts with. It names the log, so that one copied from
   * another namespace's log is not taken for this one's.
   */
  private static String prefix(String log) {
    return "replay " + log + " from ";
  }
}
