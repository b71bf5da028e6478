package dev.conveyor.dashboard;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import dev.conveyor.protocol.broker.BrokerConnector;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.topology.Names;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.testkit.ProgramProcess;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard under a simulated fleet (run by {@code bench/dashboard}; see docs/benchmarks.md):
 * {@code bin/dashboard} against the broker on 127.0.0.1, 200 workers simulated by publishing their
 * {@code worker.heartbeat} events, each with 5 {@code running} entries (1 000 running tasks), every
 * second, straight to {@code ns.events}; headless Chromium logged in as an operator.
 *
 * <ul>
 *   <li>first render: {@code driver.get} of the page until it loaded, with its first page of the
 *       running tasks (the oldest {@value View#PAGE} of 1 000) in it;
 *   <li>event → on screen: a {@code task.running} event of a new task, dated older than the others
 *       so that it is on the page's first page, is published and the time until its row is in the
 *       page's DOM (a MutationObserver notes the browser's clock; same machine, same clock), 50
 *       rounds;
 *   <li>the dashboard's CPU (from /proc/PID/stat) and RSS over 30 s: idle (no browser, nothing
 *       published) and with the fleet and one browser.
 * </ul>
 *
 * Every figure is printed with the 1-minute load average and the CPU steal over its measurement.
 * Nothing is asserted. Flags: {@code --workers 200 --tasks-per-worker 5 --rounds 50}.
 */
public final class DashboardBench {

  private static final Path CHROMIUM =
      Path.of(System.getProperty("chromium.binary", "/usr/bin/chromium"));
  private static final Path CHROMEDRIVER =
      Path.of(System.getProperty("chromedriver.binary", "/usr/bin/chromedriver"));

  public static void main(String[] args) throws Exception {
    int workers = intFlag(args, "--workers", 200);
    int perWorker = intFlag(args, "--tasks-per-worker", 5);
    int rounds = intFlag(args, "--rounds", 50);
    String uri = System.getenv().getOrDefault("CONVEYOR_URI", "amqp://guest:guest@127.0.0.1:5672");
    String namespace = "bench-dash-" + UUID.randomUUID().toString().substring(0, 8);
    Path dir = Files.createTempDirectory("dashboard-bench");
    Path users = dir.resolve("users");
    UserStore.add(users, "bench", Role.OPERATOR, "bench-password-1");
    Map<String, String> env = new HashMap<>();
    env.put("CONVEYOR_URI", uri);
    env.put("CONVEYOR_NAMESPACE", namespace);
    env.put("CONVEYOR_NO_BUILD", "1");
    System.out.printf(
        Locale.ROOT,
        "dashboard bench: %d simulated workers x %d running tasks, namespace %s%n",
        workers,
        perWorker,
        namespace);

    BrokerSettings settings =
        new BrokerSettings(List.of(URI.create(uri)), namespace, Optional.empty());
    Names names = settings.names();
    try (ProgramProcess dashboard =
            ProgramProcess.start(
                "dashboard", env, "--port", "0", "--users-file", users.toString());
        Connection connection = new BrokerConnector(settings).connect("dashboard-bench")) {
      String base = Listening.url(dashboard, Duration.ofSeconds(120));
      long pid = dashboard.pid();
      try (Channel ch = connection.createChannel()) {
        new Topology(names).declareCore(ch);
      }

      // Idle: nothing published, nobody looking.
      System.out.println(
          "idle (no browser, no events), 30 s: " + Meter.over(pid, MEASUREMENT_WINDOW));

      Channel pub = connection.createChannel();
      ScheduledExecutorService beats =
          Executors.newSingleThreadScheduledExecutor(
              r -> Thread.ofPlatform().name("bench-heartbeats").daemon().unstarted(r));
      Instant started = Instant.now();
      beats.scheduleAtFixedRate(
          () -> heartbeats(pub, names, workers, perWorker, started), 0, 1, TimeUnit.SECONDS);

      ChromeDriver driver = browser();
      try {
        logIn(driver, base);
        WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(120));
        int expected = workers * perWorker;
        int shown = Math.min(View.PAGE, expected);
        wait.until(d -> total(d) >= expected);

        // First render, 5 times.
        List<Double> renders = new ArrayList<>();
        List<Double> responses = new ArrayList<>();
        List<Double> domReady = new ArrayList<>();
        List<Double> loadEnds = new ArrayList<>();
        Conditions.Meter renderMeter = Conditions.start();
        for (int i = 0; i < 5; i++) {
          long t0 = System.nanoTime();
          driver.get(base);
          int rows = driver.findElements(By.cssSelector("#tasks tr[data-task]")).size();
          int total = total(driver);
          renders.add((System.nanoTime() - t0) / 1e6);
          // Of which the server's answer: from the request to the last byte of the HTML.
          responses.add(
              ((Number)
                      driver.executeScript(
                          "const n = performance.getEntriesByType('navigation')[0];"
                              + " return n.responseEnd - n.requestStart;"))
                  .doubleValue());
          // And when the browser had the document built, its scripts run, and the load event.
          loadEnds.add(
              ((Number)
                      driver.executeScript(
                          "const n = performance.getEntriesByType('navigation')[0];"
                              + " return n.loadEventEnd - n.startTime;"))
                  .doubleValue());
          domReady.add(
              ((Number)
                      driver.executeScript(
                          "const n = performance.getEntriesByType('navigation')[0];"
                              + " return n.domContentLoadedEventEnd - n.startTime;"))
                  .doubleValue());
          if (rows < shown || total < expected) {
            System.out.println(
                "  (render " + i + " had " + rows + " rows of " + total + ", not " + shown + ")");
          }
        }
        System.out.printf(
            Locale.ROOT,
            "first render with %d workers and %d running tasks (%d rows a page): %s ms (of which"
                + " the HTML response: %s ms; navigation start to DOMContentLoaded: %s ms, to the"
                + " end of the load event: %s ms) %s%n",
            workers,
            expected,
            shown,
            Summary.of(renders),
            Summary.of(responses),
            Summary.of(domReady),
            Summary.of(loadEnds),
            renderMeter.end());

        // Event -> on screen.
        JavascriptExecutor js = driver;
        js.executeScript(
            "window.__seen = {};"
                + "new MutationObserver(() => {"
                + "  for (const tr of document.querySelectorAll('#tasks tr[data-task]')) {"
                + "    const id = tr.dataset.task;"
                + "    if (id.startsWith('probe-') && !window.__seen[id]) window.__seen[id] = Date.now();"
                + "  }"
                + "}).observe(document.getElementById('tasks'), {childList: true, subtree: true});");
        List<Double> latencies = new ArrayList<>();
        Conditions.Meter eventMeter = Conditions.start();
        for (int i = 0; i < rounds; i++) {
          String id = "probe-" + i + "-" + UUID.randomUUID();
          long sent = System.currentTimeMillis();
          publish(
              pub,
              names,
              new TaskEvent(
                  id,
                  "probe",
                  TaskState.RUNNING,
                  "probe-worker",
                  1,
                  // Older than the simulated tasks: first on the page, which shows the oldest.
                  started.minusSeconds(1 + i),
                  null,
                  null,
                  null,
                  null,
                  "default",
                  null));
          Number seen =
              wait.until(d -> (Number) js.executeScript("return window.__seen[arguments[0]];", id));
          latencies.add((double) (seen.longValue() - sent));
          // Finish it, so the table keeps its size.
          publish(
              pub,
              names,
              new TaskEvent(
                  id,
                  "probe",
                  TaskState.SUCCEEDED,
                  "probe-worker",
                  1,
                  Instant.now(),
                  1L,
                  null,
                  null,
                  null,
                  "default",
                  null));
          wait.until(
              d -> d.findElements(By.cssSelector("#tasks tr[data-task='" + id + "']")).isEmpty());
        }
        System.out.printf(
            Locale.ROOT,
            "event -> on screen (%d rounds, %d running tasks, the first %d shown): %s ms %s%n",
            rounds,
            expected,
            shown,
            Summary.of(latencies),
            eventMeter.end());

        System.out.println(
            "with the fleet's heartbeats and one browser, 30 s: "
                + Meter.over(pid, MEASUREMENT_WINDOW));
      } finally {
        driver.quit();
        beats.shutdownNow();
        beats.awaitTermination(5, TimeUnit.SECONDS);
      }
      try (Channel ch = connection.createChannel()) {
        for (String q : List.of(names.deadQueue(), names.controlLog())) {
          ch.queueDelete(q);
        }
        ch.exchangeDelete(names.eventsExchange());
        ch.exchangeDelete(names.controlExchange());
        ch.exchangeDelete(names.tasksExchange());
        ch.exchangeDelete(names.deadExchange());
      } catch (Exception e) {
        System.err.println("cleanup: " + e.getMessage());
      }
    }
  }

  /** How many running tasks the page says there are (its pager line carries the count). */
  private static int total(WebDriver d) {
    Object n =
        ((JavascriptExecutor) d)
            .executeScript(
                "const c = document.querySelector('#tasks-pager .count');"
                    + " return c ? Number(c.dataset.total) : 0;");
    return ((Number) n).intValue();
  }

  private static void heartbeats(
      Channel ch, Names names, int workers, int perWorker, Instant started) {
    try {
      Instant now = Instant.now();
      for (int w = 0; w < workers; w++) {
        String worker = String.format(Locale.ROOT, "w-%03d", w);
        List<WorkerStatus.RunningTask> running = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (int t = 0; t < perWorker; t++) {
          String id = worker + "-task-" + t;
          ids.add(id);
          running.add(
              new WorkerStatus.RunningTask(
                  id,
                  "sleep",
                  1,
                  started,
                  Duration.between(started, now).toMillis(),
                  started.plus(Duration.ofHours(1)),
                  "running",
                  null));
        }
        WorkerEvent e =
            new WorkerEvent(
                worker, WorkerEvent.HEARTBEAT, now, ids, "bench-host", 1000L + w, running);
        synchronized (ch) {
          ch.basicPublish(names.eventsExchange(), e.routingKey(), JSON, Wire.encode(e));
        }
      }
    } catch (Exception e) {
      System.err.println("heartbeats: " + e.getMessage());
    }
  }

  private static final AMQP.BasicProperties JSON =
      new AMQP.BasicProperties.Builder().contentType(Wire.CONTENT_TYPE).build();

  private static void publish(Channel ch, Names names, TaskEvent e) throws Exception {
    synchronized (ch) {
      ch.basicPublish(names.eventsExchange(), e.routingKey(), JSON, Wire.encode(e));
    }
  }

  private static ChromeDriver browser() {
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1800");
    return new ChromeDriver(
        new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).build(),
        options);
  }

  private static void logIn(ChromeDriver driver, String base) {
    driver.get(base + "login");
    driver.findElement(By.id("user")).sendKeys("bench");
    driver.findElement(By.id("password")).sendKeys("bench-password-1");
    driver.findElement(By.id("login")).click();
    new WebDriverWait(driver, Duration.ofSeconds(60))
        .until(d -> d.findElements(By.id("whoami")).size() == 1);
  }

  private static int intFlag(String[] args, String name, int fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) {
        return Integer.parseInt(args[i + 1]);
      }
    }
    return fallback;
  }

  /** p50, p90, max of a list of milliseconds. */
  record Summary(double p50, double p90, double max, int n) {
    static Summary of(List<Double> values) {
      List<Double> s = values.stream().sorted().toList();
      return new Summary(
          s.get((int) Math.floor(0.5 * (s.size() - 1))),
          s.get((int) Math.floor(0.9 * (s.size() - 1))),
          s.getLast(),
          s.size());
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "p50 %.0f, p90 %.0f, max %.0f (n=%d)", p50, p90, max, n);
    }
  }

  /** Load average and steal over a measurement (as bench/'s Conditions). */
  record Conditions(String load, double stealPercent) {
    record Meter(long[] start) {
      Conditions end() {
        long[] now = ticks();
        long total = now[0] - start[0];
        return new Conditions(
            loadAverage(), total <= 0 ? Double.NaN : 100.0 * (now[1] - start[1]) / total);
      }
    }

    static Meter start() {
      return new Meter(ticks());
    }

    static String loadAverage() {
      try {
        return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
      } catch (Exception e) {
        return "?";
      }
    }

    /** Total and steal ticks of all CPUs. */
    static long[] ticks() {
      try {
        String[] f = Files.readAllLines(Path.of("/proc/stat")).getFirst().trim().split("\\s+");
        long total = 0;
        for (int i = 1; i <= 8 && i < f.length; i++) {
          total += Long.parseLong(f[i]);
        }
        return new long[] {total, f.length > 8 ? Long.parseLong(f[8]) : 0};
      } catch (Exception e) {
        return new long[] {0, 0};
      }
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "[load %s, steal %.1f%%]", load, stealPercent);
    }
  }

  /** How long the idle and loaded figures are sampled. */
  private static final Duration MEASUREMENT_WINDOW = Duration.ofSeconds(30);

  /**
   * The dashboard process's CPU (share of one core) over a window, and its RSS sampled once a
   * second through it (last and peak).
   */
  record Meter(long pid) {
    static String over(long pid, Duration window) throws Exception {
      Meter meter = new Meter(pid);
      Conditions.Meter conditions = Conditions.start();
      long cpuStart = meter.cpuTicks();
      long t0 = System.nanoTime();
      int samples = (int) window.toSeconds();
      CountDownLatch sampled = new CountDownLatch(samples);
      long[] rss = {0, 0}; // last, peak (KiB)
      ScheduledExecutorService sampler =
          Executors.newSingleThreadScheduledExecutor(
              r -> Thread.ofPlatform().name("bench-rss-sampler").daemon().unstarted(r));
      try {
        sampler.scheduleAtFixedRate(
            () -> {
              if (sampled.getCount() > 0) {
                rss[0] = meter.rssKib();
                rss[1] = Math.max(rss[1], rss[0]);
                sampled.countDown();
              }
            },
            1,
            1,
            TimeUnit.SECONDS);
        if (!sampled.await(window.toSeconds() + 30, TimeUnit.SECONDS)) {
          throw new IllegalStateException("the RSS sampler fell behind");
        }
      } finally {
        sampler.shutdownNow();
        sampler.awaitTermination(5, TimeUnit.SECONDS);
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      double cpu = (meter.cpuTicks() - cpuStart) / 100.0 / seconds * 100; // USER_HZ = 100
      return String.format(
          Locale.ROOT,
          "dashboard CPU %.1f%% of one core, RSS %.0f MiB (peak %.0f MiB, %d samples) %s",
          cpu,
          rss[0] / 1024.0,
          rss[1] / 1024.0,
          samples,
          conditions.end());
    }

    private long rssKib() {
      try {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
          if (line.startsWith("VmRSS:")) {
            return Long.parseLong(line.trim().split("\\s+")[1]);
          }
        }
        return 0;
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    private long cpuTicks() throws Exception {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
    }
  }
}
