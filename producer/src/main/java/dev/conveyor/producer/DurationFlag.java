package dev.conveyor.producer;

import dev.conveyor.protocol.Durations;
import java.time.Duration;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * {@link Durations} for picocli flags. A {@link TypeConversionException} makes picocli print just
 * the reason ("invalid duration 'x' …") instead of the exception's class name.
 */
final class DurationFlag implements ITypeConverter<Duration> {
  @Override
  public Duration convert(String value) {
    try {
      return Durations.parse(value);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }
}
