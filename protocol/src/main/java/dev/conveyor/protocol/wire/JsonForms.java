package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.time.Instant;

/**
 * Reading one of the codec's messages field by field with Jackson's parser, in the form Conveyor
 * writes it ({@link TaskForm}, {@link EventForm}): a value that is not in that form throws {@link
 * OtherForm}, and the message is left to the object mapper, for its leniencies, its checks and
 * their wording.
 */
final class JsonForms {

  /** Thrown where a message is not in the form: cheap, since such messages go to the mapper. */
  static final class OtherForm extends Exception {
    static final OtherForm INSTANCE = new OtherForm();

    private OtherForm() {
      super(null, null, false, false);
    }
  }

  private JsonForms() {}

  /** A string, or null. */
  static String text(JsonParser p, JsonToken value) throws IOException, OtherForm {
    return switch (value) {
      case VALUE_STRING -> p.getText();
      case VALUE_NULL -> null;
      default -> throw OtherForm.INSTANCE;
    };
  }

  /** A whole number, or null; one beyond a long throws. */
  static Long whole(JsonParser p, JsonToken value) throws IOException, OtherForm {
    return switch (value) {
      case VALUE_NUMBER_INT -> p.getLongValue();
      case VALUE_NULL -> null;
      default -> throw OtherForm.INSTANCE;
    };
  }

  /** An instant as {@code reader} reads it, or null. */
  static Instant instant(JsonParser p, JsonToken value, InstantText.Reader reader)
      throws IOException, OtherForm {
    String text = text(p, value);
    return text == null ? null : reader.parse(text);
  }
}
