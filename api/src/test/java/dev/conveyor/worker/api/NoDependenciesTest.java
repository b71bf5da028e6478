package dev.conveyor.worker.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

/**
 * A handler jar compiles against conveyor-api alone and runs in any worker: the API must bring
 * nothing with it (no Jackson, no logging binding).
 */
class NoDependenciesTest {

  @Test
  void thePomDeclaresNoDependencies() throws Exception {
    Document pom =
        DocumentBuilderFactory.newInstance()
            .newDocumentBuilder()
            .parse(Path.of("pom.xml").toFile());
    assertThat(pom.getElementsByTagName("artifactId").item(0).getTextContent())
        .isEqualTo("conveyor-parent"); // the parent's, first: this is the right pom
    assertThat(pom.getElementsByTagName("dependency").getLength()).isZero();
  }

  @Test
  void theApiMentionsNothingButTheJdk() {
    for (Class<?> type :
        new Class<?>[] {
          TaskHandler.class,
          TaskContext.class,
          CancellationToken.class,
          TaskCancelledException.class,
          TaskRejectedException.class
        }) {
      for (var method : type.getDeclaredMethods()) {
        assertThat(fromJdkOrApi(method.getReturnType())).as(method.toString()).isTrue();
        for (Class<?> p : method.getParameterTypes()) {
          assertThat(fromJdkOrApi(p)).as(method.toString()).isTrue();
        }
      }
    }
  }

  private static boolean fromJdkOrApi(Class<?> type) {
    return type.isPrimitive()
        || type.getName().startsWith("java.")
        || type.getPackageName().equals("dev.conveyor.worker.api");
  }
}
