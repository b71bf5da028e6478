package dev.conveyor.producer;

import ch.qos.logback.classic.Level;
import dev.conveyor.protocol.logging.ProgramLogging;
import java.util.Map;

/**
 * {@code bin/producer}'s logging, in the program's jar only (the library leaves logging to the
 * application): warnings and errors on stderr.
 */
public final class ProducerLogging extends ProgramLogging {
  public ProducerLogging() {
    super(
        "%d{HH:mm:ss.SSS} %-5level %logger{0} - %msg%n",
        Level.WARN,
        // A refused login also makes amqp-client log "connection driver error"; the program already
        // says what went wrong in one line (and reports lost connections itself).
        Map.of("com.rabbitmq.client.impl.ForgivingExceptionHandler", Level.ERROR));
  }
}
