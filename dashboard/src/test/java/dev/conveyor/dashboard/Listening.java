package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.testkit.ProgramProcess;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;

/** Where a {@code bin/dashboard --port 0} process listens, from the line it logs once it does. */
final class Listening {
  private Listening() {}

  private static final Pattern LINE =
      Pattern.compile("listening on (http://127\\.0\\.0\\.1:\\d+/)");

  /** Waits (at most {@code wait}) for the line and returns the URL; fails if the process exits. */
  static String url(ProgramProcess p, Duration wait) {
    return Awaitility.await("bin/dashboard listening")
        .atMost(wait)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              assertThat(p.process().isAlive())
                  .as("bin/dashboard exited early:\n%s", p.output())
                  .isTrue();
              Matcher m = LINE.matcher(p.output());
              return m.find() ? m.group(1) : null;
            },
            url -> url != null);
  }
}
