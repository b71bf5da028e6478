package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.databind.SerializerProvider;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Encodes task events one after another, as {@link Wire#encode} does, byte for byte, with one
 * generator and one buffer kept from event to event: a worker's events thread encodes one or two
 * events per task, and building a generator, a serializer provider and a buffer for each was a
 * fifth of that thread's work (docs/benchmarks.md). Not thread-safe: one per thread.
 */
public final class EventEncoder {

  private static final TaskEvent.Serializer SERIALIZER = new TaskEvent.Serializer();

  private final ByteArrayBuilder buffer = new ByteArrayBuilder();
  private final SerializerProvider provider = Wire.JSON.getSerializerProviderInstance();
  private JsonGenerator generator = newGenerator();

  /**
   * The event's JSON.
   *
   * @throws RuntimeException if it cannot be encoded (a result Jackson cannot write); the next
   *     event is encoded as if this one had never been
   */
  public byte[] encode(TaskEvent event) {
    try {
      SERIALIZER.serialize(event, generator, provider);
      generator.flush();
      return buffer.toByteArray();
    } catch (IOException | RuntimeException e) {
      // The generator may be left inside the event's object: the next event gets a fresh one.
      generator = newGenerator();
      throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
    } finally {
      buffer.reset();
    }
  }

  private JsonGenerator newGenerator() {
    try {
      JsonGenerator g = Wire.JSON.createGenerator(buffer);
      g.setRootValueSeparator(null); // events follow one another with nothing in between
      return g;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
