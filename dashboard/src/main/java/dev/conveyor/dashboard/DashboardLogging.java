package dev.conveyor.dashboard;

import ch.qos.logback.classic.Level;
import dev.conveyor.protocol.logging.ProgramLogging;
import java.util.Map;

/** The dashboard's logging: its audit log (INFO) and warnings on stderr. */
public final class DashboardLogging extends ProgramLogging {
  public DashboardLogging() {
    super(
        "%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n",
        Level.WARN,
        Map.of(
            "com.rabbitmq.client.impl.ForgivingExceptionHandler",
            Level.ERROR,
            // Logins, failed logins and every command issued: the dashboard's audit log.
            "dev.conveyor.dashboard",
            Level.INFO));
  }
}
