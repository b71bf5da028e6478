package dev.conveyor.control;

/**
 * The namespace a read-only command was pointed at is not on the broker (exit 1): most often a
 * mistyped {@code --namespace}, or no Conveyor program has run against this broker yet.
 */
final class NamespaceMissingException extends RuntimeException {
  NamespaceMissingException(String message) {
    super(message);
  }
}
