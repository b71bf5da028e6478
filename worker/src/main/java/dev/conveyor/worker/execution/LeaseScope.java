package dev.conveyor.worker.execution;

/**
 * The stretch of a consumer's life that its deliveries' leases belong to: it ends when the broker
 * takes the deliveries back (their channel or connection is gone). A delivery tag means nothing
 * after that: amqp-client's recovery silently drops acks with tags from before a recovery, so every
 * settlement asks its lease's scope first.
 */
public final class LeaseScope {

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
