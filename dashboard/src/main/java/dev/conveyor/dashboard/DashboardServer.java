package dev.conveyor.dashboard;

import dev.conveyor.protocol.broker.BrokerErrors;
import dev.conveyor.protocol.broker.BrokerSettings;
import dev.conveyor.protocol.broker.BrokerUnreachableException;
import dev.conveyor.protocol.events.Event;
import dev.conveyor.protocol.topology.Topology;
import dev.conveyor.protocol.wire.Command;
import dev.conveyor.protocol.wire.ControlMessage;
import dev.conveyor.protocol.wire.Target;
import dev.conveyor.protocol.wire.TaskState;
import dev.conveyor.protocol.wire.Wire;
import dev.conveyor.protocol.wire.WorkerEvent;
import io.javalin.Javalin;
import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.Cookie;
import io.javalin.http.ForbiddenResponse;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpStatus;
import io.javalin.http.SameSite;
import io.javalin.http.UnauthorizedResponse;
import io.javalin.http.staticfiles.Location;
import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dashboard's HTTP server (Javalin): the login, the page, the live stream, and the commands.
 * Every response carries a Content-Security-Policy that allows only this origin's own scripts and
 * styles; every page but the login and {@code /health} needs a session; every POST needs the
 * session's CSRF token, and every POST but logging out needs an operator.
 */
public final class DashboardServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DashboardServer.class);

  static final String SESSION_COOKIE = "conveyor_session";
  static final String LOGIN_COOKIE = "conveyor_login";
  static final String CSRF_HEADER = "X-CSRF-Token";

  static final String CSP =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
          + " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

  static final Map<String, String> SECURITY_HEADERS =
      Map.of(
          "Content-Security-Policy", CSP,
          "X-Content-Type-Options", "nosniff",
          "X-Frame-Options", "DENY",
          "Referrer-Policy", "no-referrer",
          "Cache-Control", "no-store");

  /** How often the page's tables are re-rendered at most, and the event tail flushed. */
  static final Duration PUSH_EVERY = Duration.ofMillis(100);

  /** The options of a running dashboard. */
  public record Options(
      String bind,
      int port,
      BrokerSettings broker,
      URI managementUrl,
      Duration statusEvery,
      boolean secureCookies) {}

  private final Options options;
  private final UserStore users;
  private final Clock clock = Clock.systemUTC();
  private final Fleet fleet = new Fleet(clock);
  private final Sessions sessions = new Sessions(Duration.ofHours(12), clock);
  private final LoginThrottle throttle = new LoginThrottle(5, Duration.ofMinutes(1), clock);
  private final SseHub hub = new SseHub();
  private final ScheduledExecutorService push =
      Executors.newSingleThreadScheduledExecutor(
          r -> Thread.ofPlatform().name("conveyor-dashboard-push").daemon().unstarted(r));
  private final ScheduledExecutorService poll =
      Executors.newSingleThreadScheduledExecutor(
          r -> Thread.ofPlatform().name("conveyor-dashboard-poll").daemon().unstarted(r));
  private final QueueStats queueStats;
  private final DeadLetterBoard dead;
  private volatile QueueStats.Snapshot queues = QueueStats.Snapshot.EMPTY;
  private BrokerLink link;
  private Javalin app;

  // Owned by the push thread.
  private long pushedVersion = -1;
  private QueueStats.Snapshot pushedQueues;
  private DeadLetterBoard.Listing pushedDead;
  private long pushedAt;
  private long pushedSeq;
  private long chartAt;
  private final Map<Shown, Map<String, String>> rendered = new HashMap<>();

  private DashboardServer(Options options, UserStore users) {
    this.options = options;
    this.users = users;
    this.queueStats =
        QueueStats.forAmqp(
            options.broker().names(), options.broker().uris().getFirst(), options.managementUrl());
    this.dead =
        new DeadLetterBoard(() -> link.connection(), new Topology(options.broker().names()), clock);
  }

  /**
   * Connects to the broker and starts listening.
   *
   * @throws BrokerUnreachableException when the broker cannot be reached (exit 3)
   */
  public static DashboardServer start(Options options, UserStore users)
      throws BrokerUnreachableException, IOException {
    DashboardServer s = new DashboardServer(options, users);
    try {
      s.link = BrokerLink.open(options.broker(), s::accept, s.fleet::status);
      s.dead.refresh();
      s.app = s.createApp().start(options.bind(), options.port());
      s.poll.scheduleWithFixedDelay(
          s::statusRound, 0, options.statusEvery().toMillis(), TimeUnit.MILLISECONDS);
      s.poll.scheduleWithFixedDelay(s::countQueues, 0, 2, TimeUnit.SECONDS);
      s.push.scheduleWithFixedDelay(s::push, 0, PUSH_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    } catch (BrokerUnreachableException | IOException | RuntimeException e) {
      s.close();
      throw e;
    }
    return s;
  }

  /** Every event of the namespace, on the connection's consumer thread. */
  private void accept(Event e) {
    fleet.accept(e);
    if (e instanceof Event.Task t && t.event().state() == TaskState.DEAD) {
      dead.refresh();
    }
    if (e instanceof Event.Worker w && WorkerEvent.STARTED.equals(w.event().state())) {
      // A worker declares its queues before it says so: count them now, not up to 2 s later.
      try {
        poll.execute(this::countQueues);
      } catch (RejectedExecutionException closing) {
        // shutting down
      }
    }
  }

  public int port() {
    return app.port();
  }

  Fleet fleet() {
    return fleet;
  }

  private Javalin createApp() {
    Javalin javalin =
        Javalin.create(
            config -> {
              config.showJavalinBanner = false;
              config.staticFiles.add(
                  sf -> {
                    sf.hostedPath = "/static";
                    sf.directory = "/static";
                    sf.location = Location.CLASSPATH;
                    sf.headers = SECURITY_HEADERS;
                  });
              config.staticFiles.enableWebjars();
              config.useVirtualThreads = false;
            });
    javalin.before(this::guard);
    javalin.get("/health", this::health);
    javalin.get("/login", ctx -> loginPage(ctx, null, HttpStatus.OK));
    javalin.post("/login", this::login);
    javalin.post("/logout", this::logout);
    javalin.get("/", this::page);
    javalin.get("/search", this::search);
    javalin.sse(
        "/stream",
        client -> {
          client.keepAlive();
          Context ctx = client.ctx();
          hub.add(new SseHub.Client(client, session(ctx).user().role(), View.of(ctx::queryParam)));
        });
    javalin.post("/api/command", this::command);
    javalin.post("/api/dead", this::deadLetters);
    return javalin;
  }

  // --- security ---------------------------------------------------------------------------------

  private static boolean open(String path) {
    return path.equals("/health")
        || path.equals("/login")
        || path.startsWith("/static/")
        || path.startsWith("/webjars/");
  }

  /** Runs before every request: headers, then the session, CSRF and role checks. */
  private void guard(Context ctx) {
    SECURITY_HEADERS.forEach(ctx::header);
    String path = ctx.path();
    if (open(path)) {
      return;
    }
    Sessions.Session s = sessions.find(ctx.cookie(SESSION_COOKIE)).orElse(null);
    if (s == null) {
      if (ctx.method() == HandlerType.GET && (path.equals("/") || path.equals("/search"))) {
        ctx.redirect("/login", HttpStatus.SEE_OTHER);
        ctx.skipRemainingHandlers();
        return;
      }
      throw new UnauthorizedResponse("log in first");
    }
    ctx.attribute("session", s);
    if (ctx.method() == HandlerType.POST) {
      String token = ctx.header(CSRF_HEADER);
      if (token == null) {
        token = ctx.formParam("csrf");
      }
      if (!Sessions.csrfMatches(s.csrf(), token)) {
        throw new ForbiddenResponse("missing or wrong CSRF token");
      }
      if (!path.equals("/logout") && s.user().role() != Role.OPERATOR) {
        throw new ForbiddenResponse("viewers cannot change anything");
      }
    }
  }

  private static Sessions.Session session(Context ctx) {
    Sessions.Session s = ctx.attribute("session");
    if (s == null) {
      throw new UnauthorizedResponse("log in first");
    }
    return s;
  }

  private Cookie cookie(String name, String value, int maxAge) {
    return new Cookie(
        name, value, "/", maxAge, options.secureCookies(), 0, true, null, null, SameSite.STRICT);
  }

  private void loginPage(Context ctx, String error, HttpStatus status) {
    String token = Sessions.token();
    ctx.cookie(cookie(LOGIN_COOKIE, token, 3600));
    ctx.status(status).html(Pages.login(token, error));
  }

  private void login(Context ctx) {
    String name = ctx.formParam("user");
    String password = ctx.formParam("password");
    String expected = ctx.cookie(LOGIN_COOKIE);
    if (expected == null || !Sessions.csrfMatches(expected, ctx.formParam("login_token"))) {
      loginPage(ctx, "The login form expired; try again.", HttpStatus.FORBIDDEN);
      return;
    }
    String who = name == null ? "" : name;
    if (!throttle.allowed(ctx.ip(), who)) {
      long seconds = Math.max(1, throttle.retryAfter(ctx.ip(), who).toSeconds());
      ctx.header("Retry-After", Long.toString(seconds));
      loginPage(
          ctx,
          "Too many failed logins; try again in " + seconds + " s.",
          HttpStatus.TOO_MANY_REQUESTS);
      return;
    }
    var user = users.verify(name, password);
    if (user.isEmpty()) {
      throttle.failed(ctx.ip(), who);
      log.warn("failed login for '{}' from {}", who, ctx.ip());
      loginPage(ctx, "Wrong user name or password.", HttpStatus.UNAUTHORIZED);
      return;
    }
    Sessions.Session s = sessions.create(user.get());
    log.info("{} ({}) logged in from {}", s.user().name(), s.user().role().wire(), ctx.ip());
    ctx.removeCookie(LOGIN_COOKIE, "/");
    ctx.cookie(cookie(SESSION_COOKIE, s.id(), -1));
    ctx.redirect("/", HttpStatus.SEE_OTHER);
  }

  private void logout(Context ctx) {
    sessions.remove(session(ctx).id());
    ctx.removeCookie(SESSION_COOKIE, "/");
    ctx.redirect("/login", HttpStatus.SEE_OTHER);
  }

  // --- pages ------------------------------------------------------------------------------------

  private void health(Context ctx) {
    boolean up = link != null && link.isOpen();
    ctx.status(up ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE)
        .json(Map.of("status", up ? "ok" : "broker connection down"));
  }

  private void page(Context ctx) {
    ctx.html(
        Pages.dashboard(
            options.broker().namespace(),
            session(ctx),
            fleet,
            queues,
            dead.listing(),
            View.of(ctx::queryParam)));
  }

  private void search(Context ctx) {
    String id = ctx.queryParam("id");
    if (id == null || id.isBlank()) {
      ctx.redirect("/", HttpStatus.SEE_OTHER);
      return;
    }
    ctx.html(
        Pages.search(
            options.broker().namespace(),
            session(ctx),
            fleet.search(id.strip()),
            dead.listing().letters()));
  }

  private void command(Context ctx) throws IOException {
    Sessions.Session s = session(ctx);
    Command verb =
        switch (String.valueOf(ctx.formParam("verb"))) {
          case "stop" -> Command.STOP;
          case "kill" -> Command.KILL;
          default -> throw new BadRequestResponse("verb must be stop or kill");
        };
    Target target;
    try {
      target = Targets.parse(ctx.formParam("kind"), ctx.formParam("value"));
    } catch (IllegalArgumentException e) {
      throw new BadRequestResponse(e.getMessage());
    }
    boolean requeue = "true".equals(ctx.formParam("requeue"));
    // Remembered before it is published, so that no acknowledgement can come back unmatched.
    ControlMessage m = link.command(verb, target, requeue, s.user().name(), fleet::sent);
    log.info(
        "{} issued {} {} (command {})",
        s.user().name(),
        verb.wire(),
        Targets.describe(target),
        m.id());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("id", m.id());
    out.put("command", verb.wire());
    out.put("target", Targets.describe(target));
    ctx.json(out);
  }

  /**
   * Replays or purges one dead letter ({@code id}) or all of them ({@code all=true}). The page asks
   * the operator first and then sends {@code confirm=yes}; a request without it is refused, so
   * nothing is replayed or purged by a stray request that skipped the question.
   */
  private void deadLetters(Context ctx) throws IOException {
    Sessions.Session s = session(ctx);
    String action = String.valueOf(ctx.formParam("action"));
    if (!action.equals("replay") && !action.equals("purge")) {
      throw new BadRequestResponse("action must be replay or purge");
    }
    boolean all = "true".equals(ctx.formParam("all"));
    String id = ctx.formParam("id");
    if (!all && (id == null || id.isBlank())) {
      throw new BadRequestResponse("give the id of a dead letter, or all=true");
    }
    if (!"yes".equals(ctx.formParam("confirm"))) {
      throw new BadRequestResponse("not confirmed: send confirm=yes once the user agreed");
    }
    String user = s.user().name();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("action", action);
    out.put("target", all ? "all dead letters" : "dead letter " + id.strip());
    if (action.equals("replay")) {
      var r = dead.replay(user, all, all ? null : id.strip()).result();
      out.put("replayed", r.replayed());
      out.put("skipped", r.skipped());
      out.put("notFound", r.notFound());
    } else {
      var r = dead.purge(user, all, all ? null : id.strip()).result();
      out.put("purged", r.purged());
      out.put("notFound", r.notFound());
    }
    ctx.json(out);
  }

  // --- background -------------------------------------------------------------------------------

  private void statusRound() {
    try {
      link.statusRound("dashboard");
      fleet.forgetSilent(Duration.ofSeconds(60));
    } catch (IOException | RuntimeException e) {
      log.warn("status round failed: {}", BrokerErrors.reason(e));
    }
  }

  private void countQueues() {
    try {
      QueueStats.Snapshot q = queueStats.read(link.connection(), fleet.queues());
      queues = q;
      if (q.dead() != null && q.dead().ready() != null) {
        dead.refreshIfDifferent(
            q.dead().ready() + (q.dead().unacked() == null ? 0 : q.dead().unacked()));
      }
    } catch (RuntimeException e) {
      log.warn("cannot count the queues: {}", BrokerErrors.reason(e));
    }
  }

  /**
   * Runs every {@link #PUSH_EVERY} on the push thread: the only thread that writes to browsers.
   * Each browser is sent only the parts of the page that changed for it: the shared tables, and its
   * own pages of the running tasks and the workers (rendered once per role and {@link View} in
   * use).
   */
  private void push() {
    try {
      long now = System.nanoTime();
      long version = fleet.version();
      QueueStats.Snapshot q = queues;
      DeadLetterBoard.Listing d = dead.listing();
      boolean stale = now - pushedAt >= TimeUnit.SECONDS.toNanos(1);
      if (version != pushedVersion || q != pushedQueues || d != pushedDead || stale) {
        pushedVersion = version;
        pushedQueues = q;
        pushedDead = d;
        pushedAt = now;
        rendered.clear();
        // Only what differs is sent: an unchanged table is not swapped under the user's mouse.
        hub.sendEach(
            "state",
            c -> {
              Map<String, String> changed = new LinkedHashMap<>();
              state(c)
                  .forEach(
                      (part, html) -> {
                        if (!html.equals(c.sent().get(part))) {
                          changed.put(part, html);
                        }
                      });
              c.sent().putAll(changed);
              return changed.isEmpty() ? null : Wire.toJson(changed);
            });
      }
      List<Fleet.EventView> events = fleet.eventsAfter(pushedSeq);
      if (!events.isEmpty()) {
        pushedSeq = events.getLast().seq();
        hub.send(null, "events", Wire.toJson(events));
      }
      long upTo = pushedSeq;
      hub.admit(
          c -> {
            Map<String, String> all = state(c);
            c.sent().putAll(all);
            return Wire.toJson(all);
          },
          () ->
              Wire.toJson(
                  fleet.events().stream()
                      .filter(e -> e.seq() <= upTo)
                      .limit(500)
                      .toList()
                      .reversed()));
      if (now - chartAt >= TimeUnit.SECONDS.toNanos(1)) {
        chartAt = now;
        hub.send(null, "chart", Wire.toJson(fleet.chart()));
      }
    } catch (RuntimeException e) {
      log.warn("could not update the browsers: {}", e.toString());
    }
  }

  /** The parts of the page as {@code c} sees them now, rendered once per role and view. */
  private Map<String, String> state(SseHub.Client c) {
    return rendered.computeIfAbsent(
        new Shown(c.role(), c.view()),
        k -> state(k.role() == Role.OPERATOR, k.view(), pushedQueues, pushedDead));
  }

  private Map<String, String> state(
      boolean operator, View view, QueueStats.Snapshot q, DeadLetterBoard.Listing d) {
    Map<String, String> s = new LinkedHashMap<>();
    Pages.workers(fleet, operator, view, s);
    Pages.tasks(fleet, operator, view, s);
    s.put("commands", Pages.commands(fleet));
    s.put("finished", Pages.finished(fleet));
    s.put("queues", Pages.queues(q));
    s.put("dead", Pages.deadLetters(d, operator));
    s.put("dead-summary", Pages.deadSummary(d));
    return s;
  }

  /** A role and a view: what one rendering of the page's parts is for. */
  private record Shown(Role role, View view) {}

  @Override
  public void close() {
    push.shutdownNow();
    poll.shutdownNow();
    hub.closeAll();
    dead.close();
    if (app != null) {
      app.stop();
    }
    if (link != null) {
      link.close();
    }
    try {
      push.awaitTermination(5, TimeUnit.SECONDS);
      poll.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
