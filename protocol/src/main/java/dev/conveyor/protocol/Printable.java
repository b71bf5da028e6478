package dev.conveyor.protocol;

/**
 * Text from the broker made safe for a terminal: task ids, types, reasons and worker names come
 * from whoever publishes tasks and events (a handler's exception message can quote its payload),
 * and a control character among them, an escape sequence, would be obeyed by the terminal that
 * shows them: recolour, retitle or clear it, or move the cursor to forge a line. Control characters
 * other than the line break, and the Unicode controls that reorder what is shown (bidirectional
 * overrides), are written as {@code \\u001b}-style escapes; everything else is unchanged.
 */
public final class Printable {
  private Printable() {}

  /**
   * Whether {@code c} is written as an escape.
   *
   * @param tabs whether a tab passes (a log's stack trace indents with them)
   */
  public static boolean unsafe(char c, boolean tabs) {
    return (c < 0x20 && c != '\n' && !(tabs && c == '\t'))
        || (c >= 0x7f && c <= 0x9f)
        || c == 0x061c
        || c == 0x200e
        || c == 0x200f
        || (c >= 0x202a && c <= 0x202e)
        || (c >= 0x2066 && c <= 0x2069);
  }

  /** The escape written for an unsafe character. */
  public static String escape(char c) {
    return switch (c) {
      case '\r' -> "\\r";
      case '\t' -> "\\t";
      default -> String.format("\\u%04x", (int) c);
    };
  }

  /** {@code s} with its unsafe characters escaped; {@code s} itself when it has none. */
  public static String of(String s, boolean tabs) {
    for (int i = 0; i < s.length(); i++) {
      if (unsafe(s.charAt(i), tabs)) {
        StringBuilder b = new StringBuilder(s.length() + 16).append(s, 0, i);
        for (int j = i; j < s.length(); j++) {
          char c = s.charAt(j);
          if (unsafe(c, tabs)) {
            b.append(escape(c));
          } else {
            b.append(c);
          }
        }
        return b.toString();
      }
    }
    return s;
  }
}
