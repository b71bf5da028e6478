package dev.conveyor.protocol.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.ClassicConstants;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator.ExecutionStatus;
import ch.qos.logback.core.ConsoleAppender;
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
