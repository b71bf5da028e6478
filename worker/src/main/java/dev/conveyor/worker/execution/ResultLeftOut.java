package dev.conveyor.worker.execution;

/**
 * A handler's result too large to announce: its task event carries the size instead, in its reason.
 * A result may be of any size; every reader of events receives each one, and the broker refuses a
 * message over its {@code max_message_size} (128 MiB by default) by closing the channel, which lost
 * the event and whatever was published behind it.
 *
 * @param bytes the result's size as JSON, or the size of the event or frame that would have held it
 */
public record ResultLeftOut(long bytes) {

  /** The largest task event sent with its result. */
  public static final int MAX_EVENT_BYTES = 1024 * 1024;

  /** The event's reason: {@code reason} (none for a success), followed by {@link #note}. */
  public String appendedTo(String reason) {
    return reason == null ? note() : reason + "; " + note();
  }

  /** What the event says in its reason. */
  public String note() {
    return "result left out: "
        + bytes / 1024
        + " KiB as JSON, over the "
        + MAX_EVENT_BYTES / 1024
        + " KiB a task event carries";
  }
}
