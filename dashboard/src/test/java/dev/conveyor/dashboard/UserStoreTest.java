package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UserStoreTest {

  @TempDir Path dir;

  @Test
  void storesOnlyASaltedHashAndVerifiesIt() throws Exception {
    Path file = dir.resolve("users");
    assertThat(UserStore.add(file, "alice", Role.OPERATOR, "correct horse")).isTrue();
    assertThat(UserStore.add(file, "bob", Role.VIEWER, "correct horse")).isTrue();

    String text = Files.readString(file);
    assertThat(text).doesNotContain("correct horse");
    String aliceHash = text.lines().filter(l -> l.startsWith("alice:")).findFirst().orElseThrow();
    String bobHash = text.lines().filter(l -> l.startsWith("bob:")).findFirst().orElseThrow();
    assertThat(aliceHash).startsWith("alice:operator:$2");
    // The same password, two salts.
    assertThat(aliceHash.substring("alice:operator:".length()))
        .isNotEqualTo(bobHash.substring("bob:viewer:".length()));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
        .isEqualTo("rw-------");

    UserStore store = UserStore.load(file);
    assertThat(store.size()).isEqualTo(2);
    assertThat(store.verify("alice", "correct horse"))
        .contains(new UserStore.User("alice", Role.OPERATOR));
    assertThat(store.verify("bob", "correct horse"))
        .contains(new UserStore.User("bob", Role.VIEWER));
    assertThat(store.verify("alice", "correct horsE")).isEmpty();
    assertThat(store.verify("alice", "")).isEmpty();
    assertThat(store.verify("alice", null)).isEmpty();
    assertThat(store.verify("mallory", "correct horse")).isEmpty();
    assertThat(store.verify(null, "correct horse")).isEmpty();
  }

  @Test
  void addingAnExistingUserReplacesRoleAndPassword() {
    Path file = dir.resolve("users");
    UserStore.add(file, "alice", Role.OPERATOR, "first password");
    assertThat(UserStore.add(file, "alice", Role.VIEWER, "second password")).isFalse();

    UserStore store = UserStore.load(file);
    assertThat(store.size()).isEqualTo(1);
    assertThat(store.verify("alice", "first password")).isEmpty();
    assertThat(store.verify("alice", "second password"))
        .contains(new UserStore.User("alice", Role.VIEWER));
  }

  @Test
  void refusesBadNamesShortPasswordsAndMalformedFiles() throws Exception {
    Path file = dir.resolve("users");
    assertThatThrownBy(() -> UserStore.add(file, "al:ice", Role.VIEWER, "long enough"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("user name");
    assertThatThrownBy(() -> UserStore.add(file, "alice", Role.VIEWER, "short"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 8");
    assertThat(file).doesNotExist();

    assertThatThrownBy(() -> UserStore.load(dir.resolve("missing")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("add-user");
    // Not "does not exist; create it", as it said of a directory or /dev/zero.
    assertThatThrownBy(() -> UserStore.load(dir))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("users file " + dir + " is not a regular file");

    Files.writeString(file, "# comment\nalice:admin:$2a$10$abc\n");
    assertThatThrownBy(() -> UserStore.load(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("line 2")
        .hasMessageContaining("viewer or operator");
    Files.writeString(file, "alice:operator:plaintext\n");
    assertThatThrownBy(() -> UserStore.load(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("line 1");
  }

  @Test
  void rolesParseFromTheirWireNames() {
    assertThat(Role.parse("operator")).isEqualTo(Role.OPERATOR);
    assertThat(Role.parse(" Viewer ")).isEqualTo(Role.VIEWER);
    assertThatThrownBy(() -> Role.parse("admin")).hasMessageContaining("viewer or operator");
  }
}
