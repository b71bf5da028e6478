package dev.conveyor.control;

import ch.qos.logback.classic.Level;
import dev.conveyor.protocol.logging.ProgramLogging;
import java.util.Map;

/** {@code control}'s logging: warnings and errors on stderr. */
public final class ControlLogging extends ProgramLogging {
  public ControlLogging() {
    super(
        "%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n",
        Level.WARN,
        // A refused connection is reported as one line by the program; the client need not add a
        // second.
        Map.of("com.rabbitmq.client.impl.ForgivingExceptionHandler", Level.ERROR));
  }
}
