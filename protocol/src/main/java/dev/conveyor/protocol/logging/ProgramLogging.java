package dev.conveyor.protocol.logging;

import ch.qos.logback.classic.ClassicConstants;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.Map;
import org.slf4j.Logger;

/**
 * A program's logging, set up in code: diagnostics on stderr (stdout carries results for scripts),
 * one pattern, a root level and a few per-logger levels. Logback finds a program's subclass through
 * {@code META-INF/services/ch.qos.logback.classic.spi.Configurator} in the program's jar.
 *
 * <p>In code rather than in a {@code logback.xml} because reading XML configuration is most of
 * logback's start-up cost, which every {@code control} command paid before it could act. A
 * configuration file given with {@code -Dlogback.configurationFile}, or a {@code logback-test.xml}
 * on the class path (tests), still wins: this configurator then steps aside.
 */
public abstract class ProgramLogging extends ContextAwareBase implements Configurator {

  private final String pattern;
  private final Level root;
  private final Map<String, Level> levels;

  /**
   * @param pattern the layout of one line, logback's pattern syntax
   * @param root the level of loggers not named in {@code levels}
   * @param levels per-logger levels (logger name or prefix)
   */
  protected ProgramLogging(String pattern, Level root, Map<String, Level> levels) {
    this.pattern = pattern;
    this.root = root;
    this.levels = Map.copyOf(levels);
  }

  @Override
  public ExecutionStatus configure(LoggerContext context) {
    if (System.getProperty(ClassicConstants.CONFIG_FILE_PROPERTY) != null
        || getClass().getClassLoader().getResource(ClassicConstants.TEST_AUTOCONFIG_FILE) != null) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY;
    }
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern(pattern);
    encoder.start();
    ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
    stderr.setContext(context);
    stderr.setName("STDERR");
    stderr.setTarget("System.err");
    stderr.setEncoder(encoder);
    stderr.start();
    ch.qos.logback.classic.Logger rootLogger = context.getLogger(Logger.ROOT_LOGGER_NAME);
    rootLogger.setLevel(root);
    rootLogger.addAppender(stderr);
    levels.forEach((name, level) -> context.getLogger(name).setLevel(level));
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  /**
   * A level named by an environment variable, e.g. {@code CONVEYOR_LOG_LEVEL}; else {@code dflt}.
   */
  protected static Level levelFromEnv(String variable, Level dflt) {
    String value = System.getenv(variable);
    return value == null || value.isBlank() ? dflt : Level.toLevel(value.strip(), dflt);
  }
}
