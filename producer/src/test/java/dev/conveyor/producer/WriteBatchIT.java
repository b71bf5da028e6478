package dev.conveyor.producer;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import dev.conveyor.protocol.broker.WriteBatch;
import dev.conveyor.protocol.wire.TaskMessage;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.Recoveries;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import javax.net.SocketFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Publishes written to the socket in batches ({@link WriteBatch}), on connections whose socket
 * writes the test counts.
 */
@ExtendWith(BrokerExtension.class)
class WriteBatchIT {

  private static final int TASKS = 200;

  /** Counts the socket writes of one thread, and can fail that thread's next one. */
  private static final class CountingSockets extends SocketFactory {
    private final Thread counted = Thread.currentThread();
    final AtomicInteger writes = new AtomicInteger();
    final AtomicBoolean failNext = new AtomicBoolean();

    @Override
    public Socket createSocket() {
      return new Socket() {
        private OutputStream out;

        @Override
        public synchronized OutputStream getOutputStream() throws IOException {
          if (out == null) {
            OutputStream socketOut = super.getOutputStream();
            out =
                new OutputStream() {
                  @Override
                  public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                  }

                  @Override
                  public void write(byte[] b, int off, int len) throws IOException {
                    if (Thread.currentThread() == counted) {
                      writes.incrementAndGet();
                      if (failNext.compareAndSet(true, false)) {
                        throw new IOException("injected write failure");
                      }
                    }
                    socketOut.write(b, off, len);
                  }
                };
          }
          return out;
        }
      };
    }

    @Override
    public Socket createSocket(String host, int port) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress local, int localPort) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(InetAddress host, int port) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(InetAddress host, int port, InetAddress local, int localPort) {
      throw new UnsupportedOperationException();
    }
  }

  private static Connection connect(TestBroker broker, SocketFactory sockets) throws Exception {
    ConnectionFactory factory = WriteBatch.connectionFactory();
    factory.setUri(broker.uri());
    factory.setVirtualHost("/");
    factory.setSocketFactory(sockets);
    factory.setNetworkRecoveryInterval(100);
    return broker.own(factory.newConnection("write-batch-test"));
  }

  private static List<TaskMessage> tasks(int n) {
    return IntStream.range(0, n).mapToObj(i -> TaskSpec.of("noop").build()).toList();
  }

  private static List<String> ids(List<TaskMessage> tasks) {
    return tasks.stream().map(TaskMessage::id).toList();
  }

  /** The ids in the default task queue, in queue order. */
  private static List<String> queued(TestBroker broker) {
    String queue = broker.names().taskQueue(TaskPublisher.DEFAULT_QUEUE);
    return broker.withChannel(
        ch -> {
          List<String> out = new ArrayList<>();
          for (var r = ch.basicGet(queue, true); r != null; r = ch.basicGet(queue, true)) {
            out.add(r.getProps().getMessageId());
          }
          return out;
        });
  }

  @Test
  void aBatchHoldsAThreadsPublishesUntilTheBufferFillsOrItIsFlushed(TestBroker broker)
      throws Exception {
    CountingSockets sockets = new CountingSockets();
    Connection connection = connect(broker, sockets);
    String queue = broker.names().taskQueue("default");
    try (TaskPublisher declaring = TaskPublisher.open(broker.settings())) {
      declaring.publish(TaskSpec.of("noop").build());
    }
    broker.withChannel(ch -> ch.queuePurge(queue));
    Channel channel = connection.createChannel();
    byte[] body = new byte[100];
    List<String> sent = new ArrayList<>();
    try (WriteBatch batch = WriteBatch.open()) {
      sockets.writes.set(0);
      for (int i = 0; i < TASKS; i++) {
        sent.add("m" + i);
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().messageId("m" + i).build();
        channel.basicPublish("", queue, props, body);
      }
      // Under 250 bytes a publish: only full 8 KiB buffers were written, not one write each.
      assertTrue(sockets.writes.get() <= TASKS * 250 / 8192, sockets.writes.get() + " writes");
      assertTrue(batch.holding());
      batch.flush();
      assertTrue(!batch.holding());
    }
    List<String> queued = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              queued.addAll(queued(broker));
              return queued.size() >= TASKS;
            });
    assertEquals(sent, queued);
  }

  @Test
  void aCollectionOfTasksIsWrittenOnlyWhenTheBufferFillsOrConfirmsAreHandedOn(TestBroker broker)
      throws Exception {
    CountingSockets sockets = new CountingSockets();
    Connection connection = connect(broker, sockets);
    List<TaskMessage> tasks = tasks(TASKS);
    AtomicInteger handedOn = new AtomicInteger();
    try (TaskPublisher publisher = TaskPublisher.open(connection, broker.names())) {
      publisher.publish(TaskSpec.of("noop").build()); // declares, outside the count
      broker.withChannel(ch -> ch.queuePurge(broker.names().taskQueue("default")));
      sockets.writes.set(0);
      publisher.publishAll(
          TaskPublisher.DEFAULT_QUEUE, tasks, confirmed -> handedOn.incrementAndGet());
    }
    // A task is well under 500 bytes on the wire; the last write is before the final wait.
    int buffersFilled = TASKS * 500 / 8192;
    int writes = sockets.writes.get();
    assertTrue(
        writes <= buffersFilled + handedOn.get() + 1,
        writes + " socket writes for " + TASKS + " publishes, " + handedOn + " confirm batches");
    assertEquals(ids(tasks), queued(broker));
  }

  @Test
  void tasksFromASourceThatMayBlockAreWrittenOneByOne(TestBroker broker) throws Exception {
    CountingSockets sockets = new CountingSockets();
    Connection connection = connect(broker, sockets);
    List<TaskMessage> tasks = tasks(TASKS);
    Iterable<TaskMessage> source = () -> tasks.iterator(); // not a collection
    try (TaskPublisher publisher = TaskPublisher.open(connection, broker.names())) {
      publisher.publish(TaskSpec.of("noop").build());
      broker.withChannel(ch -> ch.queuePurge(broker.names().taskQueue("default")));
      sockets.writes.set(0);
      publisher.publishAll(TaskPublisher.DEFAULT_QUEUE, source);
    }
    assertTrue(sockets.writes.get() >= TASKS, sockets.writes.get() + " socket writes");
    assertEquals(ids(tasks), queued(broker));
  }

  @Test
  void aWindowSmallerThanABatchIsWrittenBeforeWaitingForItsConfirms(TestBroker broker)
      throws Exception {
    Connection connection = connect(broker, new CountingSockets());
    List<TaskMessage> tasks = tasks(TASKS);
    try (TaskPublisher publisher =
        TaskPublisher.open(connection, broker.names())
            .window(5)
            .confirmTimeout(Duration.ofSeconds(5))) {
      // Five publishes fit the write buffer: held there, they would never be confirmed.
      assertTimeoutPreemptively(
          Duration.ofSeconds(30), () -> publisher.publishAll(TaskPublisher.DEFAULT_QUEUE, tasks));
    }
    assertEquals(ids(tasks), queued(broker));
  }

  @Test
  void anotherThreadsPublishesAreNotHeldByABatch(TestBroker broker) throws Exception {
    Connection connection = connect(broker, new CountingSockets());
    String queue = broker.names().taskQueue("default");
    try (TaskPublisher declaring = TaskPublisher.open(broker.settings())) {
      declaring.publish(TaskSpec.of("noop").build());
    }
    broker.withChannel(ch -> ch.queuePurge(queue));
    Channel held = connection.createChannel();
    Channel other = connection.createChannel();
    other.confirmSelect();
    AMQP.BasicProperties first = new AMQP.BasicProperties.Builder().messageId("held").build();
    AMQP.BasicProperties second = new AMQP.BasicProperties.Builder().messageId("other").build();
    try (WriteBatch batch = WriteBatch.open()) {
      held.basicPublish("", queue, first, new byte[0]);
      assertTrue(batch.holding());
      // Another thread publishes and waits for its confirm: its flush is not deferred.
      CompletableFuture.runAsync(
              () -> {
                try {
                  other.basicPublish("", queue, second, new byte[0]);
                  other.waitForConfirmsOrDie(10_000);
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              })
          .get(20, TimeUnit.SECONDS);
    }
    List<String> queued = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              queued.addAll(queued(broker));
              return queued.size() >= 2;
            });
    assertEquals(Set.of("held", "other"), Set.copyOf(queued));
  }

  @Test
  void aWriteThatFailsFailsThePublishesTheBatchHeldAndTheConnectionRecovers(TestBroker broker)
      throws Exception {
    CountingSockets sockets = new CountingSockets();
    Connection connection = connect(broker, sockets);
    List<TaskMessage> tasks = tasks(5);
    try (TaskPublisher publisher =
        TaskPublisher.open(connection, broker.names()).confirmTimeout(Duration.ofSeconds(10))) {
      publisher.publish(TaskSpec.of("noop").build());
      CountDownLatch recovered = Recoveries.next(connection);
      sockets.failNext.set(true);
      PublishException e =
          assertThrows(
              PublishException.class,
              () -> publisher.publishAll(TaskPublisher.DEFAULT_QUEUE, tasks));
      // None confirmed, every one named: the caller knows what to check or publish again.
      assertEquals(0, e.confirmedCount());
      assertEquals(ids(tasks), List.copyOf(e.failed().keySet()));
      // The failed write started the connection's recovery, after which publishing works again.
      assertTrue(recovered.await(30, TimeUnit.SECONDS), "the connection recovered");
      TaskMessage after = publisher.publish(TaskSpec.of("noop").build());
      assertTrue(queued(broker).contains(after.id()));
    }
  }

  @Test
  void aBatchBelongsToItsThreadAndNestedOnesJoinIt() throws Exception {
    WriteBatch first;
    try (WriteBatch outer = WriteBatch.open()) {
      first = outer;
      try (WriteBatch inner = WriteBatch.open()) {
        assertSame(outer, inner);
      }
      CompletableFuture<Throwable> elsewhere =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  outer.close();
                  return null;
                } catch (Throwable t) {
                  return t;
                }
              });
      assertInstanceOf(IllegalStateException.class, elsewhere.get(10, TimeUnit.SECONDS));
      try (WriteBatch again = WriteBatch.open()) {
        assertSame(outer, again, "the outer batch is still open");
      }
    }
    try (WriteBatch fresh = WriteBatch.open()) {
      assertNotSame(first, fresh, "a closed batch is not opened again");
    }
  }
}
