package dev.conveyor.dashboard;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.springframework.security.crypto.bcrypt.BCryptPasswordEncoder;

/**
 * The dashboard's users: a text file with one {@code name:role:bcrypt-hash} per line ({@code #}
 * starts a comment). Passwords are kept only as salted bcrypt hashes. Read once at start; {@link
 * #add} rewrites the file atomically, readable by its owner only.
 */
public final class UserStore {

  /** A user that logged in. */
  public record User(String name, Role role) {}

  private record Entry(Role role, String hash) {}

  static final Pattern NAME = Pattern.compile("[A-Za-z0-9._@-]{1,64}");

  /** bcrypt's cost: 2^10 rounds, about 60 ms per check on a small machine. */
  static final int STRENGTH = 10;

  static final int MIN_PASSWORD = 8;

  private final BCryptPasswordEncoder encoder = new BCryptPasswordEncoder(STRENGTH);
  private final Map<String, Entry> users;

  /**
   * Compared against when the name is unknown, so that a wrong name takes as long as a wrong
   * password.
   */
  private final String decoy;

  private UserStore(Map<String, Entry> users) {
    this.users = users;
    this.decoy = encoder.encode("decoy-password-for-unknown-users");
  }

  /**
   * @throws IllegalArgumentException (a usage error) when the file is missing or malformed
   */
  public static UserStore load(Path file) {
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new IllegalArgumentException("users file " + file + " is not a regular file");
    }
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "users file "
              + file
              + " does not exist; create it with 'dashboard add-user NAME --role operator"
              + " --users-file "
              + file
              + "'");
    }
    return new UserStore(read(file));
  }

  private static Map<String, Entry> read(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read users file " + file + ": " + e.getMessage());
    }
    Map<String, Entry> users = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] parts = line.split(":", 3);
      if (parts.length != 3 || !NAME.matcher(parts[0]).matches() || !parts[2].startsWith("$2")) {
        throw new IllegalArgumentException(
            "users file " + file + " line " + (i + 1) + ": expected name:role:bcrypt-hash");
      }
      Role role;
      try {
        role = Role.parse(parts[1]);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "users file " + file + " line " + (i + 1) + ": " + e.getMessage());
      }
      users.put(parts[0], new Entry(role, parts[2]));
    }
    return users;
  }

  public int size() {
    return users.size();
  }

  /** The user when the name exists and the password matches; the same work either way. */
  public Optional<User> verify(String name, String password) {
    Entry e = name == null ? null : users.get(name);
    String pw = password == null ? "" : password;
    boolean ok = encoder.matches(pw, e == null ? decoy : e.hash());
    return ok && e != null ? Optional.of(new User(name, e.role())) : Optional.empty();
  }

  /**
   * Adds the user, or replaces its role and password, in {@code file} (created if missing).
   *
   * @return whether the user was new
   * @throws IllegalArgumentException for a bad name or a password shorter than {@link
   *     #MIN_PASSWORD}
   */
  public static boolean add(Path file, String name, Role role, String password) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "user name must be 1-64 letters, digits or . _ @ -, not '" + name + "'");
    }
    if (password == null || password.length() < MIN_PASSWORD) {
      throw new IllegalArgumentException(
          "password must be at least " + MIN_PASSWORD + " characters");
    }
    Map<String, Entry> users = Files.exists(file) ? read(file) : new LinkedHashMap<>();
    String hash = new BCryptPasswordEncoder(STRENGTH).encode(password);
    boolean added = users.put(name, new Entry(role, hash)) == null;
    List<String> lines = new ArrayList<>();
    lines.add("# Conveyor dashboard users: name:role:bcrypt-hash (bin/dashboard add-user)");
    users.forEach((n, e) -> lines.add(n + ":" + e.role().wire() + ":" + e.hash()));
    write(file, lines);
    return added;
  }

  private static void write(Path file, List<String> lines) {
    try {
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, ".users-", ".tmp");
      try {
        try {
          Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
          // not a POSIX file system: the directory's permissions apply
        }
        Files.write(tmp, lines, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write users file " + file, e);
    }
  }
}
