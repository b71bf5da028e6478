package dev.conveyor.dashboard;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import dev.conveyor.control.ControlMessages;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.MalformedMessageException;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerStatus;
import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dashboard's one broker connection: one subscription to every event of the namespace (fanned
 * out to every browser by the server, never one per browser), the status rounds that tell each
 * worker's concurrency and paused state, and the commands its operators issue, signed with the
 * control key when one is set.
 */
final class BrokerLink implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BrokerLink.class);

  static final String DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";
  private static final long CONFIRM_TIMEOUT_MS = 10_000;

  private final BrokerSettings settings;
  private final Connection connection;
  private final Topology topology;
  private final Optional<ControlSigner> signer;
  private EventSubscription events;
  private Channel statusChannel;
  private Channel commandChannel;

  private BrokerLink(BrokerSettings settings, Connection connection) {
    this.settings = settings;
    this.connection = connection;
    this.topology = new Topology(settings.names());
    this.signer = ControlMessages.signer(settings);
  }

  /**
   * Connects, declares the core topology and subscribes to every event.
   *
   * @param listener called on the connection's consumer thread, in broker order
   * @param statuses called with each worker's answer to a status round
   * @throws BrokerUnreachableException when the broker cannot be reached (exit 3)
   */
  static BrokerLink open(
      BrokerSettings settings, Consumer<Event> listener, Consumer<WorkerStatus> statuses)
      throws BrokerUnreachableException, IOException {
    // Named after its namespace: an operator tells apart the dashboards of several namespaces.
    Connection connection =
        new BrokerConnector(settings).connect("conveyor-dashboard " + settings.namespace());
    BrokerLink link = new BrokerLink(settings, connection);
    try {
      link.events =
          EventSubscription.open(connection, link.topology, EventSubscription.ALL, listener);
      link.statusChannel = connection.createChannel();
      link.statusChannel.basicConsume(
          DIRECT_REPLY_TO,
          true,
          new DefaultConsumer(link.statusChannel) {
            @Override
            public void handleDelivery(
                String tag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
              try {
                statuses.accept(Wire.decode(body, WorkerStatus.class));
              } catch (MalformedMessageException e) {
                log.warn("ignoring an undecodable status reply: {}", e.getMessage());
              }
            }
          });
      link.commandChannel = connection.createChannel();
      // On a channel that lives as long as the link: amqp-client's recovery declares everything
      // again on the channel that declared it.
      link.topology.declareControlLog(link.commandChannel);
      link.commandChannel.confirmSelect();
    } catch (IOException | RuntimeException e) {
      link.close();
      throw e;
    }
    return link;
  }

  Names names() {
    return settings.names();
  }

  Connection connection() {
    return connection;
  }

  Topology topology() {
    return topology;
  }

  /**
   * Asks every worker for its status; the answers come to the status listener. With its own routing
   * key, so that the control log does not keep a round every few seconds.
   */
  synchronized void statusRound(String issuedBy) throws IOException {
    ControlMessage m = ControlMessages.create(Command.STATUS, Target.all(), false, issuedBy);
    byte[] body = Wire.encode(m);
    statusChannel.basicPublish(
        names().controlExchange(),
        Topology.routingKey(m),
        ControlMessages.properties(m, body, signer, DIRECT_REPLY_TO),
        body);
  }

  /**
   * Publishes a stop or kill (or pause, resume) and waits for the broker's confirm; {@code
   * publishing} is handed the message just before it is published.
   *
   * @return the message as published
   */
  synchronized ControlMessage command(
      Command verb,
      Target target,
      boolean requeue,
      String issuedBy,
      Consumer<ControlMessage> publishing)
      throws IOException {
    ControlMessage m = ControlMessages.create(verb, target, requeue, issuedBy);
    // Before it goes out: a worker's acknowledgement can come back before the broker's confirm.
    publishing.accept(m);
    byte[] body = Wire.encode(m);
    commandChannel.basicPublish(
        names().controlExchange(),
        Topology.routingKey(m),
        ControlMessages.properties(m, body, signer, null),
        body);
    try {
      commandChannel.waitForConfirmsOrDie(CONFIRM_TIMEOUT_MS);
    } catch (TimeoutException e) {
      throw new IOException("the broker did not confirm the command", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while publishing", e);
    }
    return m;
  }

  boolean isOpen() {
    return connection.isOpen();
  }

  @Override
  public void close() {
    if (events != null) {
      events.close();
    }
    Channels.closeQuietly(statusChannel);
    Channels.closeQuietly(commandChannel);
    Channels.closeQuietly(connection);
  }
}
