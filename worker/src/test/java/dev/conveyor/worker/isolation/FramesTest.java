package dev.conveyor.worker.isolation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conveyor.protocol.wire.Wire;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The child protocol's framing: a 4-byte length and JSON named by its "frame" property. */
class FramesTest {

  @Test
  void everyFrameSurvivesTheRoundTripInOrder() throws Exception {
    List<Frame> frames =
        List.of(
            new Frame.Hello(Frame.VERSION, 42, List.of("noop", "sleep")),
            new Frame.Run("t1", "sleep", Wire.JSON.readTree("{\"seconds\":1}"), 2, 3),
            new Frame.Stop("user-kill"),
            new Frame.Progress(0.25),
            new Frame.Log("héllo"),
            new Frame.Result(Wire.JSON.readTree("{\"n\":1}")),
            new Frame.Error(Frame.Error.FAILED, "boom"));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Frame f : frames) {
      Frames.write(out, f);
    }
    ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
    for (Frame f : frames) {
      assertThat(Frames.read(in)).isEqualTo(f);
    }
    assertThat(Frames.read(in)).isNull();
  }

  @Test
  void onTheWireAFrameIsALengthAndJson() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Frames.write(out, new Frame.Stop("deadline"));
    byte[] bytes = out.toByteArray();
    String json = new String(bytes, 4, bytes.length - 4, StandardCharsets.UTF_8);

    assertThat(json).isEqualTo("{\"frame\":\"stop\",\"reason\":\"deadline\"}");
    assertThat(bytes[3] & 0xff).isEqualTo(json.length());
  }

  @Test
  void aBrokenStreamIsAnErrorNotAFrame() {
    assertThatThrownBy(
            () -> Frames.read(new ByteArrayInputStream(new byte[] {(byte) 0xff, 0, 0, 0})))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("bad frame length");
    assertThatThrownBy(() -> Frames.read(new ByteArrayInputStream(new byte[] {0, 0, 0, 9, '{'})))
        .isInstanceOf(IOException.class);
  }
}
