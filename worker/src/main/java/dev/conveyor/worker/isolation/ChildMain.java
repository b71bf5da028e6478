package dev.conveyor.worker.isolation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.worker.api.CancellationToken;
import dev.conveyor.worker.api.TaskCancelledException;
import dev.conveyor.worker.api.TaskHandler;
import dev.conveyor.worker.api.TaskRejectedException;
import dev.conveyor.worker.execution.JsonTaskContext;
import dev.conveyor.worker.execution.Token;
import dev.conveyor.worker.handlers.HandlerRegistry;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The main class of a child JVM under {@code worker --isolation process}: loads the handlers, says
 * hello on stdout, then runs the tasks its worker sends on stdin, one at a time
 * (docs/isolation.md). Its stdout carries frames only: what the JVM and handlers print goes to the
 * worker as {@code log} frames (System.out, System.err) or on the real stderr (the JVM's own
 * messages). It exits when its stdin ends: the worker closed it, or died.
 *
 * <p>Usage: {@code ChildMain [JAR_DIR]}, the worker's {@code --handlers}.
 */
public final class ChildMain {

  private static final long PROGRESS_EVERY_NANOS = 20_000_000;

  private final OutputStream frames;
  private final HandlerRegistry handlers;
  private final AtomicReference<Token> running = new AtomicReference<>();

  /**
   * When progress was last sent: a handler that reports in a tight loop must not flood the pipe.
   */
  private volatile long progressSentAt;

  private ChildMain(OutputStream frames, HandlerRegistry handlers) {
    this.frames = frames;
    this.handlers = handlers;
  }

  public static void main(String[] args) throws IOException {
    OutputStream frames = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out));
    // Before anything logs: a handler's println or a log line must not break a frame.
    PrintStream logs = new PrintStream(new LineFrames(frames), true, StandardCharsets.UTF_8);
    System.setOut(logs);
    System.setErr(logs);
    Optional<Path> handlersDir = args.length > 0 ? Optional.of(Path.of(args[0])) : Optional.empty();
    HandlerRegistry handlers = HandlerRegistry.loadWithoutExec(handlersDir);
    ChildMain child = new ChildMain(frames, handlers);
    child.send(new Frame.Hello(Frame.VERSION, ProcessHandle.current().pid(), handlers.types()));
    child.serve(new BufferedInputStream(new FileInputStream(FileDescriptor.in)));
    // The worker closed our stdin: whatever still runs (a handler that ignores its token) goes too.
    Runtime.getRuntime().halt(0);
  }

  private void serve(InputStream in) throws IOException {
    Frame frame;
    while ((frame = Frames.read(in)) != null) {
      switch (frame) {
        case Frame.Run run -> start(run);
        case Frame.Stop stop -> {
          Token token = running.get();
          if (token != null) {
            token.cancel(stop.reason());
          }
        }
        default -> throw new IOException("unexpected frame from the worker: " + frame);
      }
    }
  }

  private void start(Frame.Run run) {
    Token token = new Token();
    running.set(token);
    Thread.ofPlatform()
        .name("conveyor-child-task")
        .start(
            () -> {
              Frame reply = runTask(run, token);
              running.compareAndSet(token, null);
              send(reply);
            });
  }

  private Frame runTask(Frame.Run run, Token token) {
    Optional<TaskHandler> handler = handlers.find(run.type());
    if (handler.isEmpty()) {
      return new Frame.Error(Frame.Error.REJECTED, "unknown type '" + run.type() + "'");
    }
    try {
      Object result = handler.get().handle(new Context(run, token));
      return new Frame.Result(result == null ? null : Wire.JSON.valueToTree(result));
    } catch (TaskRejectedException e) {
      return new Frame.Error(Frame.Error.REJECTED, e.getMessage());
    } catch (TaskCancelledException e) {
      return new Frame.Error(Frame.Error.CANCELLED, e.getMessage());
    } catch (IllegalArgumentException e) {
      // valueToTree's, for a result Jackson cannot write, as well as the handler's own
      return new Frame.Error(Frame.Error.FAILED, describe(e));
    } catch (Exception | StackOverflowError e) {
      return new Frame.Error(Frame.Error.FAILED, describe(e));
    }
  }

  /** As the worker describes a handler's exception: its message, or its class when it has none. */
  private static String describe(Throwable t) {
    String msg = t.getMessage();
    return msg == null || msg.isBlank() ? t.getClass().getSimpleName() : msg;
  }

  private void send(Frame frame) {
    synchronized (frames) {
      try {
        try {
          Frames.write(frames, frame);
        } catch (Frames.TooLargeException e) {
          if (!(frame instanceof Frame.Result)) {
            throw e;
          }
          // The task succeeded; only its result cannot go back: the worker announces its size.
          Frames.write(frames, new Frame.Result(null, e.bytes()));
        }
      } catch (IOException e) {
        // The worker is gone: nobody is left to tell.
        Runtime.getRuntime().halt(1);
      }
    }
  }

  /** The task context in a child: the same as in a thread, with its token set by stop frames. */
  private final class Context implements JsonTaskContext {
    private final Frame.Run run;
    private final Token token;

    Context(Frame.Run run, Token token) {
      this.run = run;
      this.token = token;
    }

    @Override
    public String taskId() {
      return run.taskId();
    }

    @Override
    public String type() {
      return run.type();
    }

    @Override
    public JsonNode payloadTree() {
      return run.payload() == null || run.payload().isNull()
          ? JsonNodeFactory.instance.objectNode()
          : run.payload();
    }

    @Override
    public int attempt() {
      return run.attempt();
    }

    @Override
    public int maxAttempts() {
      return run.maxAttempts();
    }

    @Override
    public CancellationToken token() {
      return token;
    }

    /** A kill ends this whole JVM and what it started: there is nothing left to run a hook. */
    @Override
    public void onKill(Runnable action) {}

    @Override
    public void progress(double fraction) {
      long now = System.nanoTime();
      if (fraction <= 0 || fraction >= 1 || now - progressSentAt > PROGRESS_EVERY_NANOS) {
        progressSentAt = now;
        send(new Frame.Progress(fraction));
      }
    }
  }

  /** Turns what is printed into one {@code log} frame per line. */
  private static final class LineFrames extends OutputStream {
    private final OutputStream frames;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    LineFrames(OutputStream frames) {
      this.frames = frames;
    }

    @Override
    public synchronized void write(int b) throws IOException {
      if (b == '\n') {
        String text = line.toString(StandardCharsets.UTF_8);
        line.reset();
        synchronized (frames) {
          Frames.write(frames, new Frame.Log(text));
        }
      } else {
        line.write(b);
      }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
      for (int i = off; i < off + len; i++) {
        write(b[i]);
      }
    }
  }
}
