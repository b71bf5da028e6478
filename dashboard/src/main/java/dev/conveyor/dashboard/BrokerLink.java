package dev.conveyor.dashboard;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ShutdownSignalException;
import dev.conveyor.control.ControlMessages;
import dev.conveyor.control.StatusReplies;
import dev.conveyor.protocol.ControlSigner;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import dev.conveyor.protocol.broker.Channels;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.events.EventSubscription;
import dev.conveyor.protocol.events.KeptEventSubscription;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerStatus;
import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
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
  private final Consumer<WorkerStatus> statuses;

  /** Where the event subscription is made again after the broker took it away. */
  private final ScheduledExecutorService resubscriber =
      Executors.newSingleThreadScheduledExecutor(
          r -> Thread.ofPlatform().name("conveyor-dashboard-resubscribe").daemon().unstarted(r));

  private KeptEventSubscription events;
  private Channel statusChannel;
  private String statusConsumer;
  private Channel commandChannel;

  private BrokerLink(
      BrokerSettings settings, Connection connection, Consumer<WorkerStatus> statuses) {
    this.settings = settings;
    this.connection = connection;
    this.topology = new Topology(settings.names());
    this.signer = ControlMessages.signer(settings);
    this.statuses = statuses;
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
    BrokerLink link = new BrokerLink(settings, connection, statuses);
    try {
      link.events =
          KeptEventSubscription.openPrivate(
              connection,
              link.topology,
              true,
              EventSubscription.ALL,
              listener,
              link.resubscriber,
              KeptEventSubscription.Notices.logged());
      synchronized (link) {
        link.openStatusChannel(false);
        link.openCommandChannel(false);
      }
    } catch (IOException | RuntimeException e) {
      link.close();
      throw e;
    }
    return link;
  }

  /**
   * The channel status rounds go out on and their answers come back to (direct reply-to); in place
   * of one the broker closed, on its number ({@link Channels#replacing}), and with the namespace's
   * exchanges declared again ({@code declare}): a round to a control exchange someone deleted is
   * what the broker refuses by closing the channel.
   */
  private void openStatusChannel(boolean declare) throws IOException {
    Channel lost = statusChannel;
    if (lost != null) {
      Channels.forgetConsumer(lost, statusConsumer);
    }
    Channel ch = Channels.replacing(connection, lost);
    statusChannel = ch;
    if (declare) {
      topology.declareCore(ch);
    }
    statusConsumer =
        ch.basicConsume(DIRECT_REPLY_TO, true, StatusReplies.consumer(ch, null, statuses));
  }

  /**
   * The channel commands go out on, with confirms; in place of one the broker closed, on its
   * number, and with the namespace's exchanges declared again ({@code declare}). The control log is
   * declared on it, a channel that lives as long as the link: amqp-client's recovery declares
   * everything again on the channel that declared it.
   */
  private void openCommandChannel(boolean declare) throws IOException {
    Channel ch = Channels.replacing(connection, commandChannel);
    commandChannel = ch;
    if (declare) {
      topology.declareCore(ch);
    }
    topology.declareControlLog(ch);
    ch.confirmSelect();
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
    if (!statusChannel.isOpen() && connection.isOpen()) {
      openStatusChannel(true); // the broker refused an earlier round
    }
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
    try {
      publishCommand(m, body);
    } catch (ShutdownSignalException refused) {
      // The broker closed the channel for a missing exchange (the control exchange deleted):
      // nothing was routed, so the command goes out once more on a new channel, with the
      // namespace's exchanges declared. Any other closure may have come after the command was
      // routed, and sending it again would send it twice.
      if (!(refused.getReason() instanceof AMQP.Channel.Close close)
          || close.getReplyCode() != AMQP.NOT_FOUND
          || !connection.isOpen()) {
        throw new IOException("the command was not sent: " + BrokerErrors.reason(refused), refused);
      }
      log.warn(
          "the broker refused the command ({}); sending it again on a new channel",
          BrokerErrors.reason(refused));
      try {
        publishCommand(m, body);
      } catch (ShutdownSignalException again) {
        throw new IOException("the command was not sent: " + BrokerErrors.reason(again), again);
      }
    }
    return m;
  }

  /** Publishes on the command channel, reopened first if the broker closed it, and confirms. */
  private void publishCommand(ControlMessage m, byte[] body) throws IOException {
    if (!commandChannel.isOpen()) {
      openCommandChannel(true);
    }
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
  }

  boolean isOpen() {
    return connection.isOpen();
  }

  @Override
  public void close() {
    if (events != null) {
      events.close();
    }
    resubscriber.shutdownNow();
    Channels.closeQuietly(statusChannel);
    Channels.closeQuietly(commandChannel);
    Channels.closeQuietly(connection);
  }
}
