package dev.conveyor.protocol.logging;

import ch.qos.logback.classic.ClassicConstants;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.EncoderBase;
import ch.qos.logback.core.spi.ContextAwareBase;
import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.status.StatusListener;
import dev.conveyor.protocol.Printable;
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
    FirstLineEncoder encoder = new FirstLineEncoder(pattern);
    encoder.setContext(context);
    encoder.start();
    ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
    stderr.setContext(context);
    stderr.setName("STDERR");
    stderr.setTarget("System.err");
    stderr.setEncoder(encoder);
    stderr.start();
    context.getStatusManager().add(new Problems());
    ch.qos.logback.classic.Logger rootLogger = context.getLogger(Logger.ROOT_LOGGER_NAME);
    rootLogger.setLevel(root);
    rootLogger.addAppender(stderr);
    levels.forEach((name, level) -> context.getLogger(name).setLevel(level));
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  /**
   * The pattern's encoder, made when the first line is written: compiling a pattern (its
   * converters, the date format and the time-zone rules that loads) was a visible part of every
   * program's start, and most runs of {@code control} and {@code producer} write no line at all
   * (docs/benchmarks.md). Made once, then shared by every thread that logs.
   */
  static final class FirstLineEncoder extends EncoderBase<ILoggingEvent> {
    private final String pattern;
    private volatile PatternLayoutEncoder made;

    FirstLineEncoder(String pattern) {
      this.pattern = pattern;
    }

    @Override
    public byte[] headerBytes() {
      return null; // a pattern layout has no header
    }

    /**
     * The line with its control characters written as escapes ({@link Printable}; tabs and line
     * breaks stay, for stack traces): a message quotes task ids and reasons from the broker, and a
     * log is read on terminals ({@code tail -f}, {@code docker logs}).
     */
    @Override
    public byte[] encode(ILoggingEvent event) {
      PatternLayoutEncoder e = encoder();
      String line = Printable.of(e.getLayout().doLayout(event), true);
      return e.getCharset() == null ? line.getBytes() : line.getBytes(e.getCharset());
    }

    @Override
    public byte[] footerBytes() {
      return null;
    }

    /** Whether the pattern's encoder has been made. */
    boolean made() {
      return made != null;
    }

    /** The pattern's encoder, made now if no line was written before. */
    private PatternLayoutEncoder encoder() {
      PatternLayoutEncoder e = made;
      if (e == null) {
        synchronized (this) {
          e = made;
          if (e == null) {
            e = new PatternLayoutEncoder();
            e.setContext(getContext());
            e.setPattern(pattern);
            e.start();
            made = e;
          }
        }
      }
      return e;
    }
  }

  /**
   * Logback's own warnings and errors (a pattern it cannot compile, an appender that failed), on
   * stderr, one line each. With a listener in place logback does not print them itself, which it
   * does through a printer whose date format costs every start what the encoder's would. Not
   * logback's {@code OnErrorConsoleStatusListener}: it formats through that same printer.
   */
  static final class Problems implements StatusListener {
    @Override
    public void addStatusEvent(Status status) {
      if (status.getEffectiveLevel() >= Status.WARN) {
        System.err.println("logback: " + status);
      }
    }
  }

  /**
   * A level named by an environment variable, e.g. {@code CONVEYOR_LOG_LEVEL}; else {@code dflt}.
   */
  protected static Level levelFromEnv(String variable, Level dflt) {
    String value = System.getenv(variable);
    return value == null || value.isBlank() ? dflt : Level.toLevel(value.strip(), dflt);
  }
}
