package dev.conveyor.protocol.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.ClassicConstants;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator.ExecutionStatus;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.ConsoleAppender;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

class ProgramLoggingTest {

  static final class Program extends ProgramLogging {
    Program() {
      super("%-5level %logger{0} - %msg%n", Level.WARN, Map.of("noisy.lib", Level.ERROR));
    }
  }

  @Test
  void logsToStderrAtTheProgramsLevels() {
    LoggerContext context = new LoggerContext();
    Program logging = new Program();
    logging.setContext(context);

    assertThat(logging.configure(context)).isEqualTo(ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY);

    ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    assertThat(root.getLevel()).isEqualTo(Level.WARN);
    assertThat(root.getAppender("STDERR"))
        .isInstanceOfSatisfying(
            ConsoleAppender.class,
            a -> {
              assertThat(a.getTarget()).isEqualTo("System.err");
              assertThat(a.isStarted()).isTrue();
            });
    assertThat(context.getLogger("noisy.lib").getLevel()).isEqualTo(Level.ERROR);
    assertThat(context.getLogger("noisy.lib.Inner").isWarnEnabled()).isFalse();
    assertThat(context.getLogger("dev.conveyor.Thing").isWarnEnabled()).isTrue();
    assertThat(context.getLogger("dev.conveyor.Thing").isInfoEnabled()).isFalse();
  }

  /** A context as logback's own start makes it, ready to write lines. */
  private static LoggerContext newContext() {
    LoggerContext context = new LoggerContext();
    context.setMDCAdapter(new LogbackMDCAdapter());
    return context;
  }

  /** What the program writes on stderr while {@code run} runs. */
  private static String stderrOf(Runnable run) {
    PrintStream before = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      run.run();
    } finally {
      System.setErr(before);
    }
    return err.toString(StandardCharsets.UTF_8);
  }

  private static ProgramLogging.FirstLineEncoder encoderOf(LoggerContext context) {
    ConsoleAppender<?> stderr =
        (ConsoleAppender<?>) context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDERR");
    return (ProgramLogging.FirstLineEncoder) stderr.getEncoder();
  }

  @Test
  void thePatternIsCompiledWhenTheFirstLineIsWritten() {
    LoggerContext context = newContext();
    Program logging = new Program();
    logging.setContext(context);
    logging.configure(context);
    assertThat(encoderOf(context).made()).isFalse();

    String err =
        stderrOf(
            () -> {
              context.getLogger("dev.conveyor.Thing").info("not written");
              context.getLogger("dev.conveyor.Thing").warn("written");
            });

    assertThat(err).isEqualTo("WARN  Thing - written" + System.lineSeparator());
    assertThat(encoderOf(context).made()).isTrue();
  }

  /**
   * A message quotes task ids and reasons from the broker; an escape sequence among them reached
   * the terminal of whoever read the log.
   */
  @Test
  void controlCharactersInALineAreEscapedButStackTracesKeepTheirLayout() {
    LoggerContext context = newContext();
    Program logging = new Program();
    logging.setContext(context);
    logging.configure(context);

    String err =
        stderrOf(
            () ->
                context
                    .getLogger("dev.conveyor.Thing")
                    .warn(
                        "task {} failed",
                        "id\u001b[2J\r",
                        new IllegalStateException("boom\u0007")));

    assertThat(err)
        .startsWith(
            "WARN  Thing - task id\\u001b[2J\\r failed"
                + System.lineSeparator()
                + "java.lang.IllegalStateException: boom\\u0007"
                + System.lineSeparator()
                + "\tat ")
        .doesNotContain("\u001b", "\u0007", "\r");
  }

  @Test
  void logbacksOwnErrorsGoToStderrOnALineEach() {
    LoggerContext context = newContext();
    ProgramLogging logging = new ProgramLogging("%nosuchword %msg%n", Level.WARN, Map.of()) {};
    logging.setContext(context);
    logging.configure(context);

    String err = stderrOf(() -> context.getLogger("dev.conveyor.Thing").warn("hello"));

    assertThat(err.lines().filter(l -> l.startsWith("logback: ERROR")))
        .anySatisfy(l -> assertThat(l).contains("nosuchword"));
  }

  @Test
  void aConfigurationFileGivenOnTheCommandLineWins() {
    LoggerContext context = new LoggerContext();
    Program logging = new Program();
    logging.setContext(context);
    String before = System.getProperty(ClassicConstants.CONFIG_FILE_PROPERTY);
    System.setProperty(ClassicConstants.CONFIG_FILE_PROPERTY, "elsewhere.xml");
    try {
      assertThat(logging.configure(context)).isEqualTo(ExecutionStatus.INVOKE_NEXT_IF_ANY);
      assertThat(context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDERR")).isNull();
    } finally {
      if (before == null) {
        System.clearProperty(ClassicConstants.CONFIG_FILE_PROPERTY);
      } else {
        System.setProperty(ClassicConstants.CONFIG_FILE_PROPERTY, before);
      }
    }
  }
}
