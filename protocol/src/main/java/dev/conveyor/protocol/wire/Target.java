package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.util.List;

/**
 * Whom a control message addresses. On the wire exactly one of {@code {"all":true}}, {@code
 * {"tasks":[…]}}, {@code {"workers":[…]}} or {@code {"types":[…]}}.
 */
@JsonSerialize(using = Target.Serializer.class)
@JsonDeserialize(using = Target.Deserializer.class)
public sealed interface Target {

  record All() implements Target {}

  record Tasks(List<String> ids) implements Target {
    public Tasks {
      ids = List.copyOf(ids);
    }
  }

  record Workers(List<String> names) implements Target {
    public Workers {
      names = List.copyOf(names);
    }
  }

  record Types(List<String> types) implements Target {
    public Types {
      types = List.copyOf(types);
    }
  }

  static Target all() {
    return new All();
  }

  /** Writes a target in its one-key wire form. */
  final class Serializer extends StdSerializer<Target> {
    public Serializer() {
      super(Target.class);
    }

    @Override
    public void serialize(Target t, JsonGenerator g, SerializerProvider p) throws IOException {
      write(t, g);
    }

    /** The wire form, written with the streaming API alone ({@link ControlMessage#toJson}). */
    static void write(Target t, JsonGenerator g) throws IOException {
      g.writeStartObject();
      switch (t) {
        case All a -> g.writeBooleanField("all", true);
        case Tasks ts -> writeList(g, "tasks", ts.ids());
        case Workers w -> writeList(g, "workers", w.names());
        case Types ty -> writeList(g, "types", ty.types());
      }
      g.writeEndObject();
    }

    private static void writeList(JsonGenerator g, String field, List<String> values)
        throws IOException {
      g.writeArrayFieldStart(field);
      for (String v : values) {
        g.writeString(v);
      }
      g.writeEndArray();
    }
  }

  /** Reads a target, refusing anything but exactly one known key. */
  final class Deserializer extends StdDeserializer<Target> {
    public Deserializer() {
      super(Target.class);
    }

    @Override
    public Target deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
      try {
        return TargetTree.read(p.readValueAsTree());
      } catch (TargetTree.Refused r) {
        throw ctx.weirdStringException(r.value, Target.class, r.getMessage());
      }
    }
  }
}
