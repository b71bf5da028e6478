package dev.conveyor.protocol.broker;

import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.impl.AMQConnection;
import com.rabbitmq.client.impl.Frame;
import com.rabbitmq.client.impl.FrameHandler;
import com.rabbitmq.client.impl.FrameHandlerFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;

/**
 * Lets one thread write several AMQP commands to the socket at once. amqp-client writes and flushes
 * every command on its own: each publish is a system call, and on loopback the receiving side's
 * work too. Between {@link #open()} and {@link #close()} a thread's commands on a connection made
 * by {@link #connectionFactory()} stay in the connection's write buffer until the buffer fills (8
 * KiB) or the batch is {@linkplain #flush() flushed}. Other threads' writes flush as usual, taking
 * the batch's bytes with them.
 *
 * <p>Only commands that expect no reply may be written in a batch (publishes, acks): a command that
 * waits for its reply would wait for a request still in the buffer. Flush before waiting for
 * anything the broker sends back (a publisher confirm), and before handing control to code that may
 * block. On a connection from any other factory a batch changes nothing.
 *
 * <p>A batch belongs to the thread that opened it. Opening one while the thread has one open joins
 * it: the outer {@link #close()} ends it, and every {@link #flush()} writes what the thread holds.
 */
public final class WriteBatch implements AutoCloseable {

  private static final ThreadLocal<WriteBatch> CURRENT = new ThreadLocal<>();

  private final Thread owner = Thread.currentThread();
  private final List<Handler> held = new ArrayList<>(1);
  private int depth;
  private boolean releasing;

  private WriteBatch() {}

  /** A connection factory whose connections take part in write batches. */
  public static ConnectionFactory connectionFactory() {
    return new Factory();
  }

  /** Opens a batch on this thread, or joins the one it has open. */
  public static WriteBatch open() {
    WriteBatch batch = CURRENT.get();
    if (batch == null) {
      batch = new WriteBatch();
      CURRENT.set(batch);
    }
    batch.depth++;
    return batch;
  }

  /** Whether this batch holds commands not yet written to their socket. */
  public boolean holding() {
    return !held.isEmpty();
  }

  /**
   * Writes what this batch holds. A failed write is handled as amqp-client handles one (the
   * connection recovers) and thrown.
   */
  public void flush() throws IOException {
    checkOwner();
    if (held.isEmpty()) {
      return;
    }
    releasing = true;
    try {
      IOException failed = null;
      for (Handler handler : held) {
        try {
          handler.release();
        } catch (IOException e) {
          if (failed == null) {
            failed = e;
          } else {
            failed.addSuppressed(e);
          }
        }
      }
      held.clear();
      if (failed != null) {
        throw failed;
      }
    } finally {
      releasing = false;
    }
  }

  /** Writes what this batch holds and, unless an outer batch of this thread continues, ends it. */
  @Override
  public void close() throws IOException {
    checkOwner();
    try {
      flush();
    } finally {
      if (--depth == 0) {
        CURRENT.remove();
      }
    }
  }

  private void checkOwner() {
    if (Thread.currentThread() != owner) {
      throw new IllegalStateException("a write batch belongs to the thread that opened it");
    }
  }

  private void hold(Handler handler) {
    if (!held.contains(handler)) {
      held.add(handler);
    }
  }

  private static final class Factory extends ConnectionFactory {
    @Override
    protected synchronized FrameHandlerFactory createFrameHandlerFactory() throws IOException {
      FrameHandlerFactory plain = super.createFrameHandlerFactory();
      return (address, connectionName) -> new Handler(plain.create(address, connectionName));
    }
  }

  /**
   * Defers the flushes of a thread that has a batch open; everything else goes straight through.
   */
  private static final class Handler implements FrameHandler {
    private final FrameHandler delegate;
    private volatile AMQConnection connection;

    Handler(FrameHandler delegate) {
      this.delegate = delegate;
    }

    @Override
    public void flush() throws IOException {
      WriteBatch batch = CURRENT.get();
      if (batch == null || batch.releasing) {
        delegate.flush();
      } else {
        batch.hold(this);
      }
    }

    /** Through the connection, so that a failed write starts its recovery. */
    void release() throws IOException {
      AMQConnection c = connection;
      if (c != null) {
        c.flush();
      } else {
        delegate.flush();
      }
    }

    @Override
    public void initialize(AMQConnection connection) {
      this.connection = connection;
      delegate.initialize(connection);
    }

    @Override
    public void setTimeout(int timeoutMs) throws SocketException {
      delegate.setTimeout(timeoutMs);
    }

    @Override
    public int getTimeout() throws SocketException {
      return delegate.getTimeout();
    }

    @Override
    public void sendHeader() throws IOException {
      delegate.sendHeader();
    }

    @Override
    public Frame readFrame() throws IOException {
      return delegate.readFrame();
    }

    @Override
    public void writeFrame(Frame frame) throws IOException {
      delegate.writeFrame(frame);
    }

    @Override
    public void close() {
      delegate.close();
    }

    @Override
    public InetAddress getLocalAddress() {
      return delegate.getLocalAddress();
    }

    @Override
    public int getLocalPort() {
      return delegate.getLocalPort();
    }

    @Override
    public InetAddress getAddress() {
      return delegate.getAddress();
    }

    @Override
    public int getPort() {
      return delegate.getPort();
    }
  }
}
