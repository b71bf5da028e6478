package dev.conveyor.worker.execution;

/**
 * The stretch of a consumer's life that its deliveries' leases belong to: it ends when the broker
 * takes the deliveries back (their channel or connection is gone). A delivery tag means nothing
 * after that: amqp-client's recovery silently drops acks with tags from before a recovery, so every
 * settlement asks its lease's scope first.
 */
public final class LeaseScope {

  private final AckWindow acks;

  /** A scope whose deliveries are acknowledged one by one, on their lease's channel. */
  public LeaseScope() {
    this(null);
  }

  /**
   * @param acks where this scope's acks go, or null to ack each on its lease's channel; a window
   *     must see every delivery of its channel
   */
  public LeaseScope(AckWindow acks) {
    this.acks = acks;
  }

  /** The window that acks this scope's deliveries in runs, or null if they are acked one by one. */
  public AckWindow acks() {
    return acks;
  }

  private volatile boolean lost;
  private volatile boolean withConnection;

  public boolean lost() {
    return lost;
  }

  /** Whether the whole connection went (rather than one channel that the broker closed). */
  public boolean lostWithConnection() {
    return withConnection;
  }

  /** The broker has taken back every delivery of this scope. */
  public void markLost(boolean withConnection) {
    this.withConnection = withConnection;
    lost = true;
  }
}
