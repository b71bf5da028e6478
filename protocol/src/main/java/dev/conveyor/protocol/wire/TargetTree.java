package dev.conveyor.protocol.wire;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link Target} read from its JSON tree: the one set of rules that Jackson's binding ({@link
 * Target.Deserializer}) and {@link Wire#controlOf} share.
 */
final class TargetTree {

  /** Why a tree is no target: the value at fault, and the reason in the binding's words. */
  static final class Refused extends Exception {
    final String value;

    Refused(String value, String reason) {
      super(reason, null, false, false);
      this.value = value;
    }
  }

  private TargetTree() {}

  /** Exactly one known key: {@code all} true, or a non-empty array of strings. */
  static Target read(JsonNode node) throws Refused {
    if (node == null || !node.isObject() || node.size() != 1) {
      throw new Refused(String.valueOf(node), "target must be an object with exactly one key");
    }
    String key = node.fieldNames().next();
    JsonNode value = node.get(key);
    return switch (key) {
      case "all" -> {
        if (!value.asBoolean(false)) {
          throw new Refused(value.toString(), "all must be true");
        }
        yield Target.all();
      }
      case "tasks" -> new Target.Tasks(strings(key, value));
      case "workers" -> new Target.Workers(strings(key, value));
      case "types" -> new Target.Types(strings(key, value));
      default -> throw new Refused(key, "unknown target key '" + key + "'");
    };
  }

  private static List<String> strings(String key, JsonNode value) throws Refused {
    if (!value.isArray() || value.isEmpty()) {
      throw new Refused(value.toString(), key + " must be a non-empty array of strings");
    }
    List<String> out = new ArrayList<>(value.size());
    for (JsonNode v : value) {
      if (!v.isTextual()) {
        throw new Refused(v.toString(), key + " must hold strings");
      }
      out.add(v.textValue());
    }
    return out;
  }
}
