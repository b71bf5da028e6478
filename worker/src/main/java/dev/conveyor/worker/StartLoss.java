package dev.conveyor.worker;

import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;

/**
 * Whether a worker's start that failed had lost its connection: then it is worth beginning again,
 * as a running worker that loses its connection reconnects. A refusal of the first connection, a
 * refused declaration, an unusable setting are not.
 */
final class StartLoss {
  private volatile boolean connected;
  private volatile ShutdownSignalException heard;

  /**
   * The start has its connection: from now on, its first loss is noted. Only a start that failed
   * asks ({@link #of}); a loss after a start that succeeded is the running worker's to handle.
   */
  void connected(Connection c) {
    connected = true;
    c.addShutdownListener(
        cause -> {
          if (!cause.isInitiatedByApplication() && heard == null) {
            heard = cause;
          }
        });
  }

  /**
   * The connection's loss (not our own close) if it happened during this start: in the failure's
   * causes, or heard by the connection's listener. Either may come first: a call on the closed
   * connection fails as soon as amqp-client marks it closed, before it tells its listeners.
   *
   * @return null if the start had not connected (the broker refused the connection itself, which
   *     its causes also tell as a closed connection), or did not lose its connection
   */
  ShutdownSignalException of(Throwable failure) {
    if (!connected) {
      return null;
    }
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof ShutdownSignalException s
          && s.isHardError()
          && !s.isInitiatedByApplication()) {
        return s;
      }
    }
    return heard;
  }
}
