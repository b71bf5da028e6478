package dev.conveyor.control;

import dev.conveyor.protocol.wire.ControlMessage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * A command's control message, made and encoded on a thread of its own while the command connects
 * to the broker: its id (the JVM's first secure random numbers) and the issuer's host name are
 * start-up work that would otherwise run between connecting and publishing, on the path of a
 * command that should act at once. It is written with Jackson's streaming API ({@link
 * ControlMessage#toJson}): building the object mapper took longer than connecting, so the mapper,
 * which decodes the answers, is built afterwards on this thread, while the command goes out.
 */
final class Prepared {

  /** The message and the exact bytes to publish (and sign). */
  record Outgoing(ControlMessage message, byte[] body) {}

  private final CompletableFuture<Outgoing> outgoing = new CompletableFuture<>();

  private Prepared() {}

  /** Starts making the message; the thread ends when it is encoded. */
  static Prepared start(Supplier<ControlMessage> make) {
    Prepared prepared = new Prepared();
    Thread.ofPlatform()
        .name("conveyor-prepare")
        .daemon()
        .start(
            () -> {
              try {
                ControlMessage message = make.get();
                prepared.outgoing.complete(new Outgoing(message, message.toJson()));
              } catch (Throwable e) {
                prepared.outgoing.completeExceptionally(e);
              }
            });
    return prepared;
  }

  /** Waits for the message; what failed making it is rethrown as it was. */
  Outgoing await() throws IOException {
    try {
      return outgoing.join();
    } catch (CompletionException e) {
      switch (e.getCause()) {
        case UncheckedIOException io -> throw io.getCause();
        case RuntimeException r -> throw r;
        case Error err -> throw err;
        default -> throw new IOException(e.getCause());
      }
    }
  }
}
