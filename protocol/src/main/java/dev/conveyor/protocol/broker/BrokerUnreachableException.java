package dev.conveyor.protocol.broker;

/** The broker could not be reached or refused us; programs exit 3 on it. */
public class BrokerUnreachableException extends Exception {
  public BrokerUnreachableException(String message, Throwable cause) {
    super(message, cause);
  }
}
