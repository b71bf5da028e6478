package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conveyor.protocol.cli.Cli;
import dev.conveyor.testkit.HelpText;
import org.junit.jupiter.api.Test;

class HelpTest {
  @Test
  void everyParagraphOfTheHelpIsWrappedWhole() {
    assertThat(HelpText.sentencesSplitOverLines(Cli.commandLine(new DashboardMain()))).isEmpty();
  }
}
