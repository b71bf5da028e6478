package dev.conveyor.protocol.broker;

import java.util.regex.Pattern;

/** Hides passwords in anything that may reach a log or a terminal (SPEC §2). */
public final class Redaction {
  private static final Pattern USERINFO_PASSWORD =
      Pattern.compile("(amqps?://[^:/@\\s]*:)[^@\\s]*@");

  private Redaction() {}

  public static String mask(String text) {
    return text == null ? null : USERINFO_PASSWORD.matcher(text).replaceAll("$1****@");
  }
}
