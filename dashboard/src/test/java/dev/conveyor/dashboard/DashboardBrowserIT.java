package dev.conveyor.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import dev.conveyor.producer.TaskPublisher;
import dev.conveyor.producer.TaskSpec;
import dev.conveyor.protocol.wire.Cause;
import dev.conveyor.protocol.wire.TaskEvent;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import dev.conveyor.protocol.wire.WorkerStatus;
import dev.conveyor.testkit.BrokerExtension;
import dev.conveyor.testkit.ControlLogCommands;
import dev.conveyor.testkit.EventLog;
import dev.conveyor.testkit.ProgramProcess;
import dev.conveyor.testkit.TestBroker;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.Alert;
import org.openqa.selenium.By;
import org.openqa.selenium.Cookie;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser (headless Chromium driven by Selenium), started through {@code
 * bin/dashboard} against the real broker and real {@code bin/worker} processes. Chromium and its
 * driver are Debian's {@code chromium} and {@code chromium-driver} ({@code .ci/run} installs them);
 * without them this test fails and says so.
 */
@ExtendWith(BrokerExtension.class)
class DashboardBrowserIT {

  static final Path CHROMIUM = Path.of(System.getProperty("chromium.binary", "/usr/bin/chromium"));
  static final Path CHROMEDRIVER =
      Path.of(System.getProperty("chromedriver.binary", "/usr/bin/chromedriver"));

  /** Generous: CI is a loaded 2-CPU machine, and every wait here ends as soon as it can. */
  static final Duration WAIT = Duration.ofSeconds(90);

  static final String OPERATOR_PASSWORD = "operator-password-1";
  static final String VIEWER_PASSWORD = "viewer-password-1";

  @TempDir Path dir;

  private WebDriver driver;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void browserIsInstalled() {
    if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
      throw new AssertionError(
          "the dashboard's browser tests need Chromium and its WebDriver at "
              + CHROMIUM
              + " and "
              + CHROMEDRIVER
              + ": install them with 'apt-get install -y chromium chromium-driver' (.ci/run does)"
              + " or point -Dchromium.binary and -Dchromedriver.binary at them");
    }
  }

  @AfterEach
  void quitBrowser() {
    if (driver != null) {
      driver.quit();
    }
  }

  private WebDriver browser() {
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1800");
    ChromeDriverService service =
        new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).build();
    driver = new ChromeDriver(service, options);
    return driver;
  }

  private Path users() {
    Path file = dir.resolve("users");
    UserStore.add(file, "alice", Role.OPERATOR, OPERATOR_PASSWORD);
    UserStore.add(file, "bob", Role.VIEWER, VIEWER_PASSWORD);
    return file;
  }

  private static Map<String, String> env(TestBroker broker) {
    Map<String, String> env = new HashMap<>(broker.env());
    env.put("CONVEYOR_NO_BUILD", "1");
    env.put("CONVEYOR_JAVA_OPTS", "-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
    return env;
  }

  /** Starts bin/dashboard on a free port and returns its base URL once it listens. */
  private String dashboard(TestBroker broker) {
    ProgramProcess p =
        broker.own(
            ProgramProcess.start(
                "dashboard",
                env(broker),
                "--port",
                "0",
                "--users-file",
                users().toString(),
                "--status-every",
                "1s"));
    return Listening.url(p, WAIT);
  }

  private static ProgramProcess worker(TestBroker broker, String name) {
    return broker.own(
        ProgramProcess.start(
            "worker",
            env(broker),
            "--name",
            name,
            "--concurrency",
            "2",
            "--heartbeat",
            "1s",
            "--shutdown-grace",
            "5s",
            "--kill-grace",
            "1s"));
  }

  private static String sleep(TaskPublisher publisher) throws IOException {
    return publisher
        .publish(
            TaskSpec.of("sleep")
                .payload(Map.of("seconds", 600))
                .timeout(Duration.ofMinutes(15))
                .build())
        .id();
  }

  /** A wait that looks again when the page swapped a table under it (it does so every second). */
  /**
   * The element's text, read through the wait: the page re-renders parts of itself (on each
   * heartbeat, on each search), and an element found just before can be stale when it is read.
   */
  private String textOf(By locator) {
    return waiting().until(d -> d.findElement(locator).getText());
  }

  private WebDriverWait waiting() {
    WebDriverWait wait = new WebDriverWait(driver, WAIT, Duration.ofMillis(50));
    wait.ignoring(StaleElementReferenceException.class);
    return wait;
  }

  /** Clicks what {@code by} finds, finding it again if a table update replaced it meanwhile. */
  private void click(By by) {
    waiting()
        .until(
            d -> {
              d.findElement(by).click();
              return true;
            });
  }

  private void logIn(String base, String user, String password) {
    driver.get(base + "login");
    driver.findElement(By.id("user")).sendKeys(user);
    driver.findElement(By.id("password")).sendKeys(password);
    driver.findElement(By.id("login")).click();
  }

  private static By runningRow(String task) {
    return By.cssSelector("#tasks tr[data-task='" + task + "']");
  }

  @Test
  void operatorSeesTasksAppearAndStopsOneOfThem(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    String base = dashboard(broker);
    worker(broker, "w1");
    browser();
    logIn(base, "alice", OPERATOR_PASSWORD);
    waiting().until(ExpectedConditions.textToBe(By.id("whoami"), "alice (operator)"));
    waiting().until(ExpectedConditions.attributeToBe(By.id("live"), "class", "on"));

    TaskPublisher publisher = broker.own(TaskPublisher.open(broker.settings()));
    String first = sleep(publisher);
    String second = sleep(publisher);
    // No reload: the rows come over the event stream.
    String url = driver.getCurrentUrl();
    waiting().until(ExpectedConditions.presenceOfElementLocated(runningRow(first)));
    waiting().until(ExpectedConditions.presenceOfElementLocated(runningRow(second)));
    assertThat(driver.getCurrentUrl()).isEqualTo(url);
    waiting()
        .until(
            ExpectedConditions.textToBePresentInElementLocated(
                By.cssSelector("#workers tr[data-worker='w1']"), "w1"));

    click(By.cssSelector("#tasks tr[data-task='" + first + "'] button[data-verb=stop]"));

    By finishedState = By.cssSelector("#finished tr[data-task='" + first + "'] td.state");
    waiting().until(ExpectedConditions.textToBe(finishedState, "cancelled"));
    waiting().until(ExpectedConditions.invisibilityOfElementLocated(runningRow(first)));
    waiting().until(ExpectedConditions.presenceOfElementLocated(runningRow(second)));
    // The worker's acknowledgement, shown with the command.
    waiting()
        .until(
            ExpectedConditions.textToBePresentInElementLocated(
                By.id("commands"), "w1: stopped " + first));
    // The event tail shows it too.
    waiting()
        .until(
            ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#events tr[data-task='" + first + "']")));

    TaskEvent cancelled = events.awaitFinal(first, WAIT);
    assertThat(cancelled.state()).isEqualTo(TaskState.CANCELLED);
    assertThat(cancelled.cause()).isEqualTo(Cause.USER_STOP);
    assertThat(cancelled.issuedBy()).isEqualTo("alice");
    assertThat(events.states(second)).containsExactly(TaskState.RUNNING);
    // The dashboard's status rounds (one a second here) stay out of the control log, which every
    // starting worker reads; the stop is kept.
    assertThat(ControlLogCommands.of(broker)).containsExactly("stop");

    screenshot();

    // Search by id: the header's form.
    driver.findElement(By.id("q")).sendKeys(first);
    driver.findElement(By.cssSelector("form.search button")).click();
    waiting()
        .until(
            ExpectedConditions.textToBePresentInElementLocated(
                By.id("search-events"), "cancelled"));
    assertThat(textOf(By.id("search-events"))).contains("running");
  }

  @Test
  void operatorReplaysADeadLetterFromThePage(TestBroker broker) throws Exception {
    EventLog events = EventLog.open(broker);
    String base = dashboard(broker);
    broker.useQueue("default");
    ProgramProcess w1 = worker(broker, "w1");
    browser();
    logIn(base, "alice", OPERATOR_PASSWORD);
    waiting().until(ExpectedConditions.textToBe(By.id("whoami"), "alice (operator)"));
    // The queue is counted as soon as the worker says it started, its consumer included.
    By consumers = By.cssSelector("#queues tr[data-queue='default'] td:nth-child(4)");
    waiting().until(ExpectedConditions.textToBe(consumers, "1"));

    TaskPublisher publisher = broker.own(TaskPublisher.open(broker.settings()));
    String task = publisher.publish(TaskSpec.of("fail").maxAttempts(1).build()).id();
    events.await(task, TaskState.DEAD, WAIT);
    // Nobody consumes from now on, so the replayed task waits in its queue to be seen there.
    w1.close();

    By row = By.cssSelector("#dead tr[data-dead='" + task + "']");
    waiting().until(ExpectedConditions.presenceOfElementLocated(row));
    String text = textOf(row);
    assertThat(text).contains("fail").contains("default");
    waiting()
        .until(
            ExpectedConditions.textToBePresentInElementLocated(By.id("dead-summary"), "1 letter"));

    // A request that skipped the question is refused, and changes nothing.
    Cookie session = driver.manage().getCookieNamed(DashboardServer.SESSION_COOKIE);
    String csrf = driver.findElement(By.cssSelector("meta[name=csrf]")).getDomAttribute("content");
    HttpResponse<String> unconfirmed =
        post(base + "api/dead", session.getValue(), csrf, "action=purge&all=true");
    assertThat(unconfirmed.statusCode()).isEqualTo(400);
    assertThat(broker.messageCount(broker.names().deadQueue())).isEqualTo(1);

    click(By.cssSelector("#dead tr[data-dead='" + task + "'] button[data-action=replay]"));
    Alert question = waiting().until(ExpectedConditions.alertIsPresent());
    assertThat(question.getText()).contains("Replay dead letter " + task);
    question.accept();

    waiting()
        .until(ExpectedConditions.textToBePresentInElementLocated(By.id("flash"), "Replayed 1"));
    waiting()
        .until(
            ExpectedConditions.textToBePresentInElementLocated(By.id("dead"), "no dead letters"));
    Awaitility.await("the dead-letter queue empty, the task back in its queue")
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              assertThat(broker.messageCount(broker.names().deadQueue())).isZero();
              assertThat(broker.messageCount(broker.names().taskQueue("default"))).isEqualTo(1);
            });

    // It runs again, with fresh attempts, on the next worker.
    worker(broker, "w2");
    Awaitility.await("the replayed task running again")
        .atMost(WAIT)
        .until(
            () ->
                events.of(task).stream()
                    .anyMatch(e -> e.state() == TaskState.RUNNING && "w2".equals(e.worker())));
  }

  /**
   * A letter that cannot go back (no origin queue) and has no id at all is kept, and the page says
   * which: "a letter without an id", where it said "undefined".
   */
  @Test
  void replayingAllKeepsALetterWithoutAnIdAndSaysSo(TestBroker broker) {
    broker.withConfirms(
        ch -> {
          broker.topology().declareCore(ch);
          ch.basicPublish(
              broker.names().deadExchange(),
              "",
              null,
              "not json".getBytes(java.nio.charset.StandardCharsets.UTF_8));
          return null;
        });
    String base = dashboard(broker);
    browser();
    logIn(base, "alice", OPERATOR_PASSWORD);
    waiting()
        .until(
            ExpectedConditions.textToBePresentInElementLocated(By.id("dead-summary"), "1 letter"));

    click(By.cssSelector("button.dead-act.replay[data-all=true]"));
    waiting().until(ExpectedConditions.alertIsPresent()).accept();

    waiting()
        .until(
            ExpectedConditions.textToBePresentInElementLocated(
                By.id("flash"), "kept a letter without an id (no origin queue in its headers)"));
    assertThat(broker.messageCount(broker.names().deadQueue())).isEqualTo(1);
  }

  /**
   * More running tasks than a page: 3 simulated workers (their {@code worker.heartbeat} events,
   * published every second as the benchmark does) with 50 running tasks each, task {@code i}
   * started {@code i} seconds after the first. The page shows the oldest 100 and says so, the next
   * page the last 50; a filter narrows to one task, whose Stop still works and whose row still
   * follows the heartbeats.
   */
  @Test
  void operatorPagesAndFiltersMoreRunningTasksThanAPage(TestBroker broker) throws Exception {
    String base = dashboard(broker);
    Instant first = Instant.now().minus(Duration.ofHours(1));
    AtomicReference<Double> progress = new AtomicReference<>(0.1);
    broker.withChannel(
        ch -> {
          broker.topology().declareCore(ch);
          return null;
        });
    ScheduledExecutorService beats =
        Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("it-heartbeats").daemon().unstarted(r));
    beats.scheduleWithFixedDelay(
        () -> {
          try {
            heartbeats(broker, first, 3, 50, progress.get());
          } catch (RuntimeException e) {
            System.err.println("heartbeats: " + e);
          }
        },
        0,
        1,
        TimeUnit.SECONDS);
    try {
      browser();
      logIn(base, "alice", OPERATOR_PASSWORD);
      waiting().until(ExpectedConditions.textToBe(By.id("whoami"), "alice (operator)"));
      By pager = By.cssSelector("#tasks-pager .count");
      By rows = By.cssSelector("#tasks tr[data-task]");
      waiting()
          .until(
              ExpectedConditions.textToBePresentInElementLocated(
                  pager, "showing 1\u2013100 of 150 running tasks, oldest first"));
      assertThat(textOf(pager)).contains("filter by task id, type or worker to narrow");
      waiting().until(ExpectedConditions.numberOfElementsToBe(rows, 100));
      assertThat(driver.findElements(runningRow(task(0, 0)))).hasSize(1);
      assertThat(driver.findElements(runningRow(task(1, 49)))).hasSize(1);
      assertThat(driver.findElements(runningRow(task(2, 0)))).isEmpty();
      // The three workers fit on one page: no line, no buttons.
      waiting()
          .until(
              ExpectedConditions.numberOfElementsToBe(
                  By.cssSelector("#workers tr[data-worker]"), 3));
      assertThat(textOf(By.cssSelector("#workers-pager .count"))).isEmpty();
      assertThat(driver.findElements(By.cssSelector("#workers-pager button"))).isEmpty();

      // The next page: the newest 50, and the page's address says which page it is.
      click(By.cssSelector("#tasks-pager button.page[data-page='2']"));
      waiting()
          .until(
              ExpectedConditions.textToBePresentInElementLocated(
                  pager, "showing 101\u2013150 of 150"));
      waiting().until(ExpectedConditions.numberOfElementsToBe(rows, 50));
      assertThat(driver.findElements(runningRow(task(2, 49)))).hasSize(1);
      assertThat(driver.findElements(runningRow(task(0, 0)))).isEmpty();
      assertThat(driver.getCurrentUrl()).contains("tp=2");

      // A filter narrows to one task (and back to the first page).
      String one = task(1, 7);
      driver.findElement(By.id("tasks-filter")).sendKeys(one);
      waiting()
          .until(
              ExpectedConditions.textToBePresentInElementLocated(
                  pager, "showing 1 of 1 running tasks matching \u201c" + one + "\u201d (of 150)"));
      waiting().until(ExpectedConditions.numberOfElementsToBe(rows, 1));
      assertThat(driver.getCurrentUrl()).doesNotContain("tp=2");

      // Its row follows the heartbeats: only the visible page's rows come over the stream.
      progress.set(0.42);
      waiting().until(ExpectedConditions.textToBePresentInElementLocated(runningRow(one), "42%"));

      // Stop on a filtered row works as on any other.
      click(By.cssSelector("#tasks tr[data-task='" + one + "'] button[data-verb=stop]"));
      waiting()
          .until(
              ExpectedConditions.textToBePresentInElementLocated(
                  By.id("flash"), "stop sent to task " + one));
      waiting()
          .until(
              ExpectedConditions.textToBePresentInElementLocated(By.id("commands"), "task " + one));

      // A reload keeps the view: the address carries the filter.
      driver.navigate().refresh();
      waiting().until(ExpectedConditions.numberOfElementsToBe(rows, 1));
      assertThat(driver.findElement(By.id("tasks-filter")).getDomProperty("value")).isEqualTo(one);
    } finally {
      beats.shutdownNow();
      beats.awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static String task(int worker, int index) {
    return String.format(Locale.ROOT, "w-%d-task-%02d", worker, index);
  }

  /** One heartbeat of each simulated worker, with its running tasks, to {@code ns.events}. */
  private static void heartbeats(
      TestBroker broker, Instant first, int workers, int perWorker, double progress) {
    Instant now = Instant.now();
    broker.withChannel(
        ch -> {
          for (int w = 0; w < workers; w++) {
            String worker = "w-" + w;
            List<WorkerStatus.RunningTask> running = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (int t = 0; t < perWorker; t++) {
              String id = task(w, t);
              ids.add(id);
              Instant started = first.plusSeconds(w * perWorker + t);
              running.add(
                  new WorkerStatus.RunningTask(
                      id,
                      "sleep",
                      1,
                      started,
                      Duration.between(started, now).toMillis(),
                      started.plus(Duration.ofHours(2)),
                      "running",
                      progress));
            }
            WorkerEvent e =
                new WorkerEvent(
                    worker, WorkerEvent.HEARTBEAT, now, ids, "it-host", 1000L + w, running);
            ch.basicPublish(
                broker.names().eventsExchange(),
                e.routingKey(),
                new AMQP.BasicProperties.Builder().contentType(Wire.CONTENT_TYPE).build(),
                Wire.encode(e));
          }
          return null;
        });
  }

  /** Keeps a picture of the page for the README when asked: -Ddashboard.screenshot=FILE. */
  private void screenshot() throws IOException {
    String target = System.getProperty("dashboard.screenshot");
    if (target != null && driver instanceof ChromeDriver chrome) {
      Files.write(Path.of(target), chrome.getScreenshotAs(OutputType.BYTES));
    }
  }

  @Test
  void viewerSeesNoButtonsAndAForgedPostIsRefused(TestBroker broker) throws Exception {
    String base = dashboard(broker);
    worker(broker, "w1");
    browser();
    logIn(base, "bob", VIEWER_PASSWORD);
    waiting().until(ExpectedConditions.textToBe(By.id("whoami"), "bob (viewer)"));

    TaskPublisher publisher = broker.own(TaskPublisher.open(broker.settings()));
    String task = sleep(publisher);
    waiting().until(ExpectedConditions.presenceOfElementLocated(runningRow(task)));
    waiting()
        .until(
            ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#workers tr[data-worker='w1']")));
    List<String> buttons =
        waiting()
            .until(
                d ->
                    d.findElements(By.tagName("button")).stream()
                        .map(WebElement::getText)
                        .toList());
    assertThat(buttons).containsExactlyInAnyOrder("Search", "Log out");

    Cookie session = driver.manage().getCookieNamed(DashboardServer.SESSION_COOKIE);
    assertThat(session.isHttpOnly()).isTrue();
    assertThat(session.getSameSite()).isEqualTo("Strict");
    String csrf = driver.findElement(By.cssSelector("meta[name=csrf]")).getDomAttribute("content");

    // Even with the session's own CSRF token, a viewer changes nothing.
    HttpResponse<String> forged =
        post(base + "api/command", session.getValue(), csrf, "verb=stop&kind=all");
    assertThat(forged.statusCode()).isEqualTo(403);
    HttpResponse<String> noToken =
        post(base + "api/command", session.getValue(), null, "verb=stop&kind=all");
    assertThat(noToken.statusCode()).isEqualTo(403);
    HttpResponse<String> purge =
        post(base + "api/dead", session.getValue(), csrf, "action=purge&all=true&confirm=yes");
    assertThat(purge.statusCode()).isEqualTo(403);
    // The task still runs: nothing was sent.
    driver.navigate().refresh();
    waiting().until(ExpectedConditions.presenceOfElementLocated(runningRow(task)));
  }

  @Test
  void wrongPasswordShowsNoDataAndTheHeadersAreSet(TestBroker broker) throws Exception {
    String base = dashboard(broker);
    browser();
    logIn(base, "alice", "not-the-password");
    waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("login-error")));
    assertThat(driver.findElement(By.id("login-error")).getText())
        .isEqualTo("Wrong user name or password.");
    assertThat(driver.findElements(By.id("workers"))).isEmpty();
    assertThat(driver.findElements(By.id("tasks"))).isEmpty();
    assertThat(driver.manage().getCookieNamed(DashboardServer.SESSION_COOKIE)).isNull();
    driver.get(base);
    assertThat(driver.getCurrentUrl()).endsWith("/login");

    // The same over plain HTTP: 401 and the login form only; every other page wants a login.
    HttpResponse<String> page = get(base + "login", null);
    String loginCookie =
        page.headers().allValues("Set-Cookie").stream()
            .filter(c -> c.startsWith(DashboardServer.LOGIN_COOKIE + "="))
            .findFirst()
            .orElseThrow();
    assertThat(loginCookie).contains("HttpOnly").contains("SameSite=Strict");
    String token = loginCookie.substring(loginCookie.indexOf('=') + 1, loginCookie.indexOf(';'));
    HttpResponse<String> wrong =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "login"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Cookie", DashboardServer.LOGIN_COOKIE + "=" + token)
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "login_token=" + token + "&user=alice&password=wrong"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(wrong.body()).doesNotContain("tbody").doesNotContain("namespace");
    assertThat(wrong.headers().firstValue("Set-Cookie").orElse(""))
        .doesNotContain(DashboardServer.SESSION_COOKIE);
    assertThat(wrong.headers().firstValue("Content-Security-Policy"))
        .hasValueSatisfying(csp -> assertThat(csp).contains("script-src 'self'"));
    for (String path : List.of("stream", "search?id=x")) {
      assertThat(get(base + path, null).statusCode()).as(path).isIn(401, 303);
    }
    assertThat(post(base + "api/command", null, null, "verb=stop&kind=all").statusCode())
        .isEqualTo(401);
    assertThat(get(base + "health", null).statusCode()).isEqualTo(200);
  }

  private HttpResponse<String> get(String url, String session) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).GET();
    if (session != null) {
      b.header("Cookie", DashboardServer.SESSION_COOKIE + "=" + session);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> post(String url, String session, String csrf, String form)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(form));
    if (session != null) {
      b.header("Cookie", DashboardServer.SESSION_COOKIE + "=" + session);
    }
    if (csrf != null) {
      b.header(DashboardServer.CSRF_HEADER, csrf);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }
}
