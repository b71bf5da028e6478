package dev.conveyor.bench;

import picocli.CommandLine.Command;

/**
 * {@link StopLatencyBench} from the command line: 4 {@code bin/worker} processes, and each stop or
 * kill a {@code bin/control stop|kill --all} process, timed from just before it is spawned to the
 * receipt of the last {@code task.cancelled}: what a user who types the command waits for.
 */
@Command(
    name = "cli-stop",
    mixinStandardHelpOptions = true,
    description = {
      "bin/control stop --all of 16 cooperative sleep tasks and bin/control kill --all of 16 exec"
          + " tasks (a direct child, then a process tree) on 4 bin/worker processes x 4: launch of"
          + " bin/control -> last task.cancelled received."
    })
public final class CliStopBench extends StopLatencyBench {
  public CliStopBench() {
    super(true);
  }
}
