package dev.conveyor.testkit;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/** Collects what one class logs while it is open, as "LEVEL message" lines. */
public final class LogCapture implements AutoCloseable {
  private final Logger logger;
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

  private LogCapture(Class<?> source) {
    logger = (Logger) LoggerFactory.getLogger(source);
    appender.start();
    logger.addAppender(appender);
  }

  public static LogCapture of(Class<?> source) {
    return new LogCapture(source);
  }

  /** Every event so far at WARN or above. */
  public List<String> warnings() {
    synchronized (appender) { // as all(): a class logging meanwhile appends to the list
      return appender.list.stream()
          .filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
          .map(e -> e.getLevel() + " " + e.getFormattedMessage())
          .toList();
    }
  }

  /** Every event so far that came with an exception, whose stack trace a log would print. */
  public List<String> withStackTraces() {
    synchronized (appender) {
      return appender.list.stream()
          .filter(e -> e.getThrowableProxy() != null)
          .map(e -> e.getLevel() + " " + e.getFormattedMessage())
          .toList();
    }
  }

  /** Every event so far, whatever its level. */
  public List<String> all() {
    synchronized (appender) { // AppenderBase.doAppend holds this lock while it appends
      return appender.list.stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()).toList();
    }
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
  }
}
