package dev.conveyor.worker;

import ch.qos.logback.classic.Level;
import dev.conveyor.protocol.logging.ProgramLogging;
import java.util.Map;

/** The worker's logging on stderr, at {@code CONVEYOR_LOG_LEVEL} (default INFO). */
public final class WorkerLogging extends ProgramLogging {
  public WorkerLogging() {
    super(
        "%d{HH:mm:ss.SSS} %-5level [%thread] %logger{0} - %msg%n",
        levelFromEnv("CONVEYOR_LOG_LEVEL", Level.INFO),
        Map.of(
            "com.rabbitmq",
            Level.WARN,
            // Its warnings only repeat, for a socket closed or reset, that the connection was lost,
            // which the worker says itself with the reason and then says when it is back.
            "com.rabbitmq.client.impl.ForgivingExceptionHandler",
            Level.ERROR));
  }
}
