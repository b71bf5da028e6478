package dev.conveyor.worker.isolation;

import dev.conveyor.protocol.wire.Wire;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Reads and writes length-prefixed JSON {@link Frame}s (docs/isolation.md). */
public final class Frames {

  /** A larger frame means a broken stream, not a message. */
  public static final int MAX_FRAME_BYTES = 64 * 1024 * 1024;

  private Frames() {}

  /** A frame over {@link #MAX_FRAME_BYTES}, which the other side would take for a broken stream. */
  public static final class TooLargeException extends IOException {
    private final long bytes;

    TooLargeException(long bytes) {
      super("frame of " + bytes + " bytes, over " + MAX_FRAME_BYTES);
      this.bytes = bytes;
    }

    public long bytes() {
      return bytes;
    }
  }

  /**
   * Writes one frame and flushes. Callers that share a stream serialise their writes.
   *
   * @throws TooLargeException for a frame over {@link #MAX_FRAME_BYTES}, with nothing written
   */
  public static void write(OutputStream out, Frame frame) throws IOException {
    byte[] body = Wire.JSON.writerFor(Frame.class).writeValueAsBytes(frame);
    if (body.length > MAX_FRAME_BYTES) {
      throw new TooLargeException(body.length);
    }
    DataOutputStream data = new DataOutputStream(out);
    data.writeInt(body.length);
    data.write(body);
    data.flush();
  }

  /**
   * Reads one frame.
   *
   * @return null at the end of the stream (the other side closed it or died)
   * @throws IOException for a stream cut inside a frame or a frame that is not one
   */
  public static Frame read(InputStream in) throws IOException {
    DataInputStream data = new DataInputStream(in);
    int length;
    try {
      length = data.readInt();
    } catch (EOFException e) {
      return null;
    }
    if (length < 0 || length > MAX_FRAME_BYTES) {
      throw new IOException("bad frame length " + length);
    }
    byte[] body = new byte[length];
    data.readFully(body);
    return Wire.JSON.readValue(body, Frame.class);
  }
}
