package dev.conveyor.protocol.broker;

import java.util.regex.Pattern;

/** Hides passwords in anything that may reach a log or a terminal (docs/design.md). */
public final class Redaction {
  /** Any scheme, not only amqp(s): a mistyped one ("ampq://u:p@h") must not leak either. */
  private static final Pattern USERINFO_PASSWORD =
      Pattern.compile("([A-Za-z][A-Za-z0-9+.\\-]*://[^:/@\\s]*:)[^@\\s]*@");

  private Redaction() {}

  public static String mask(String text) {
    return text == null ? null : USERINFO_PASSWORD.matcher(text).replaceAll("$1****@");
  }
}
