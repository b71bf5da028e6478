package dev.conveyor.e2e;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * No two packages of Conveyor depend on each other, directly or through others: each package can be
 * read, tested and changed from the bottom up. Read from the class files of every module.
 */
class PackageCyclesTest {

  private static final JavaClasses CONVEYOR =
      new ClassFileImporter()
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
          .importPackages("dev.conveyor");

  @Test
  void noPackageCycles() {
    slices().matching("dev.conveyor.(**)").should().beFreeOfCycles().check(CONVEYOR);
  }
}
