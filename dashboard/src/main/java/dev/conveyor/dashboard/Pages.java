package dev.conveyor.dashboard;

import static j2html.TagCreator.*;

import dev.conveyor.control.dead.DeadLetter;
import j2html.tags.DomContent;
import j2html.tags.specialized.ButtonTag;
import j2html.tags.specialized.TrTag;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The dashboard's HTML, rendered on the server with j2html (which escapes every text and
 * attribute). The live parts are table bodies that the server re-renders when something changes and
 * sends over Server-Sent Events; the page's script only swaps them in. Viewers get the same tables
 * without a single button.
 */
final class Pages {
  private Pages() {}

  static final String UPLOT = "/webjars/uplot/1.6.30/dist/";

  /** The login form; {@code error} is shown above it (no data is ever on this page). */
  static String login(String loginToken, String error) {
    return document(
        html(
            head(
                meta().withCharset("utf-8"),
                title("Conveyor dashboard: log in"),
                link().withRel("stylesheet").withHref("/static/app.css")),
            body(
                main(
                        h1("Conveyor dashboard"),
                        iff(error != null, p(error).withClass("error").withId("login-error")),
                        form(
                                input()
                                    .withType("hidden")
                                    .withName("login_token")
                                    .withValue(loginToken),
                                label("User ").with(input().withName("user").withId("user")),
                                label("Password ")
                                    .with(
                                        input()
                                            .withType("password")
                                            .withName("password")
                                            .withId("password")),
                                button("Log in").withType("submit").withId("login"))
                            .withMethod("post")
                            .withAction("/login"))
                    .withClass("login"))));
  }

  /** The main page, with the live tables as they are now. */
  static String dashboard(
      String namespace,
      Sessions.Session session,
      Fleet fleet,
      QueueStats.Snapshot queues,
      DeadLetterBoard.Listing dead,
      View view) {
    boolean op = session.user().role() == Role.OPERATOR;
    Map<String, String> paged = new LinkedHashMap<>();
    workers(fleet, op, view, paged);
    tasks(fleet, op, view, paged);
    return document(
        html(
            head(
                meta().withCharset("utf-8"),
                meta().withName("csrf").withContent(session.csrf()),
                title("Conveyor dashboard: " + namespace),
                link().withRel("stylesheet").withHref(UPLOT + "uPlot.min.css"),
                link().withRel("stylesheet").withHref("/static/app.css"),
                script().withSrc(UPLOT + "uPlot.iife.min.js").isDefer(),
                script().withSrc("/static/app.js").isDefer()),
            body(
                    header(
                        h1("Conveyor"),
                        span("namespace " + namespace).withClass("ns"),
                        span("●").withId("live").withTitle("live updates"),
                        form(
                                input().withName("id").withPlaceholder("task id").withId("q"),
                                button("Search").withType("submit"))
                            .withMethod("get")
                            .withAction("/search")
                            .withClass("search"),
                        span(session.user().name() + " (" + session.user().role().wire() + ")")
                            .withId("whoami"),
                        form(csrfField(session), button("Log out").withType("submit"))
                            .withMethod("post")
                            .withAction("/logout")
                            .withClass("logout")),
                    p().withId("flash").attr("role", "status"),
                    section(
                        h2("Workers"),
                        div(
                                filter(
                                    "workers-filter",
                                    view.workerFilter(),
                                    "filter: worker name or host"),
                                div(rawHtml(paged.get("workers-pager")))
                                    .withId("workers-pager")
                                    .withClass("pager"))
                            .withClass("paging"),
                        table(
                            thead(
                                tr(
                                    th("name"),
                                    th("host"),
                                    th("pid"),
                                    th("busy / concurrency"),
                                    th("paused"),
                                    th("isolation"),
                                    th("queues"),
                                    th("state"),
                                    th("last heard"),
                                    iff(op, th("")))),
                            tbody(rawHtml(paged.get("workers"))).withId("workers"))),
                    section(
                        h2("Running tasks"),
                        iff(
                            op,
                            div(
                                    verb("stop", "all", "", "Stop all"),
                                    verb("kill", "all", "", "Kill all"),
                                    input()
                                        .withId("type-target")
                                        .withPlaceholder("task type")
                                        .attr("aria-label", "task type"),
                                    verb("stop", "type", "", "Stop type"),
                                    verb("kill", "type", "", "Kill type"),
                                    label(
                                        input().withType("checkbox").withId("requeue"),
                                        text(" requeue instead of cancel")))
                                .withClass("bulk")),
                        div(
                                filter(
                                    "tasks-filter",
                                    view.taskFilter(),
                                    "filter: task id, type or worker"),
                                div(rawHtml(paged.get("tasks-pager")))
                                    .withId("tasks-pager")
                                    .withClass("pager"))
                            .withClass("paging"),
                        table(
                            thead(
                                tr(
                                    th("task"),
                                    th("type"),
                                    th("worker"),
                                    th("attempt"),
                                    th("age"),
                                    th("deadline"),
                                    th("stage"),
                                    th("progress"),
                                    iff(op, th("")))),
                            tbody(rawHtml(paged.get("tasks"))).withId("tasks"))),
                    section(
                        h2("Commands from this dashboard"),
                        table(
                            thead(
                                tr(th("command"), th("target"), th("by"), th("acknowledgements"))),
                            tbody(rawHtml(commands(fleet))).withId("commands"))),
                    section(
                        h2("Recently finished"),
                        table(
                            thead(
                                tr(th("task"), th("type"), th("worker"), th("state"), th("cause"))),
                            tbody(rawHtml(finished(fleet))).withId("finished"))),
                    section(
                        h2("Queues"),
                        table(
                            thead(
                                tr(
                                    th("queue"),
                                    th("ready"),
                                    th("unacked"),
                                    th("consumers"),
                                    th("retry: ready"))),
                            tbody(rawHtml(queues(queues))).withId("queues"))),
                    section(
                        h2("Dead letters"),
                        div(
                                span(rawHtml(deadSummary(dead))).withId("dead-summary"),
                                iff(
                                    op,
                                    span(
                                        deadAction("replay", null, "Replay all"),
                                        deadAction("purge", null, "Purge all"))))
                            .withClass("bulk"),
                        table(
                            thead(
                                tr(
                                    th("task"),
                                    th("type"),
                                    th("reason"),
                                    th("cause"),
                                    th("origin queue"),
                                    th("attempts"),
                                    th("history"),
                                    iff(op, th("")))),
                            tbody(rawHtml(deadLetters(dead, op))).withId("dead"))),
                    section(h2("Outcomes per second (15 min)"), div().withId("chart")),
                    section(
                        h2("Events"),
                        div(
                                input().withId("f-task").withPlaceholder("task id"),
                                input().withId("f-type").withPlaceholder("type"),
                                input().withId("f-state").withPlaceholder("state"))
                            .withClass("filters"),
                        table(
                            thead(
                                tr(
                                    th("at"),
                                    th("event"),
                                    th("task"),
                                    th("type"),
                                    th("worker"),
                                    th("cause / reason"),
                                    th("by"))),
                            tbody().withId("events"))))
                .attr("data-role", session.user().role().wire())));
  }

  private static DomContent filter(String id, String value, String placeholder) {
    return input()
        .withType("search")
        .withId(id)
        .withValue(value)
        .withPlaceholder(placeholder)
        .attr("aria-label", placeholder)
        .attr("maxlength", View.FILTER_MAX);
  }

  /**
   * The line above a paged table: which rows of how many it shows, how to narrow them, and the
   * buttons to the previous and next pages. Empty when every row is shown and nothing is filtered.
   * Its first element carries the counts ({@code data-matched}, {@code data-total}) for scripts.
   */
  static String pager(
      String table, View.Paged<?> p, String filter, String noun, String order, String narrow) {
    List<DomContent> parts = new ArrayList<>();
    String text = "";
    if (p.pages() > 1 || !filter.isEmpty()) {
      String quoted = "\u201c" + filter + "\u201d";
      if (p.matched() == 0) {
        text = "none of the " + num(p.total()) + " " + noun + " match " + quoted;
      } else {
        text =
            "showing "
                + (p.pages() > 1 ? num(p.from()) + "\u2013" + num(p.to()) : num(p.matched()))
                + " of "
                + num(p.matched())
                + " "
                + noun
                + (filter.isEmpty() ? "" : " matching " + quoted + " (of " + num(p.total()) + ")")
                + ", "
                + order
                + (filter.isEmpty() ? " \u2014 " + narrow : "");
      }
    }
    parts.add(
        span(text)
            .withClass("count")
            .attr("data-matched", p.matched())
            .attr("data-total", p.total())
            .attr("data-page", p.page())
            .attr("data-pages", p.pages()));
    if (p.page() > 1) {
      parts.add(pageButton(table, p.page() - 1, "\u2039 previous " + View.PAGE));
    }
    if (p.page() < p.pages()) {
      parts.add(
          pageButton(
              table,
              p.page() + 1,
              "next " + Math.min(View.PAGE, p.matched() - p.to()) + " \u203a"));
    }
    StringBuilder out = new StringBuilder();
    parts.forEach(d -> out.append(d.render()));
    return out.toString();
  }

  private static ButtonTag pageButton(String table, int page, String label) {
    return button(label)
        .withType("button")
        .withClass("page")
        .attr("data-table", table)
        .attr("data-page", page);
  }

  /** 1 000 000: thousands apart by a space, as the docs write them. */
  static String num(int n) {
    return String.format(Locale.ROOT, "%,d", n).replace(',', ' ');
  }

  private static DomContent csrfField(Sessions.Session session) {
    return input().withType("hidden").withName("csrf").withValue(session.csrf());
  }

  private static ButtonTag verb(String verb, String kind, String value, String label) {
    return button(label)
        .withType("button")
        .withClass("act " + verb)
        .attr("data-verb", verb)
        .attr("data-kind", kind)
        .attr("data-value", value);
  }

  /** A replay or purge button: of one letter ({@code id}) or of all ({@code id} null). */
  private static ButtonTag deadAction(String action, String id, String label) {
    ButtonTag b =
        button(label)
            .withType("button")
            .withClass("dead-act " + action)
            .attr("data-action", action)
            .attr("data-all", id == null ? "true" : "false");
    return id == null ? b : b.attr("data-id", id);
  }

  static String deadSummary(DeadLetterBoard.Listing d) {
    String text;
    if (d.letters() == null) {
      text = d.problem() == null ? "not read yet" : "cannot read the queue: " + d.problem();
    } else {
      int n = d.letters().size();
      text =
          (n == 1 ? "1 letter" : n + " letters")
              + (n > DeadLetterBoard.SHOWN
                  ? " (the first " + DeadLetterBoard.SHOWN + " shown)"
                  : "")
              + ", read "
              + d.at().toString().replace('T', ' ').replaceAll("\\.\\d+Z$", "Z")
              + (d.problem() == null ? "" : " (" + d.problem() + ")");
    }
    return span(text).render();
  }

  static String deadLetters(DeadLetterBoard.Listing d, boolean op) {
    List<DomContent> rows = new ArrayList<>();
    if (d.letters() != null) {
      for (DeadLetter l : d.letters().subList(0, Math.min(DeadLetterBoard.SHOWN, d.size()))) {
        List<String> history = l.history() == null ? List.of() : l.history();
        rows.add(
            tr(
                    td(code(l.id() == null ? "(no id)" : l.id())),
                    td(nz(l.type())),
                    td(nz(l.reason())),
                    td(nz(l.cause())),
                    td(nz(l.origin())),
                    td(l.attempts() == null ? "" : l.attempts().toString()),
                    td(
                        history.isEmpty()
                            ? text("")
                            : details(
                                summary(
                                    history.size() + (history.size() == 1 ? " entry" : " entries")),
                                ol(each(history, h -> li(h))))),
                    iff(
                        op,
                        td(
                            iff(
                                l.id() != null,
                                span(
                                    deadAction("replay", l.id(), "Replay"),
                                    deadAction("purge", l.id(), "Purge"))))))
                .attr("data-dead", nz(l.id())));
      }
    }
    return render(rows, op ? 8 : 7, d.letters() == null ? "not read yet" : "no dead letters");
  }

  /** The workers' page that {@code view} shows: puts {@code workers} and {@code workers-pager}. */
  static void workers(Fleet fleet, boolean op, View view, Map<String, String> out) {
    Instant now = Instant.now();
    String filter = view.workerFilter();
    View.Paged<Fleet.WorkerView> page =
        View.Paged.of(
            fleet.workers(), w -> View.matches(filter, w.name(), w.host()), view.workerPage());
    Map<String, Integer> busy = fleet.busy();
    List<DomContent> rows = new ArrayList<>();
    for (Fleet.WorkerView w : page.rows()) {
      rows.add(
          tr(
                  td(w.name()),
                  td(nz(w.host())),
                  td(w.pid() == null ? "" : w.pid().toString()),
                  td(
                      busy.getOrDefault(w.name(), 0)
                          + " / "
                          + (w.concurrency() == null ? "?" : w.concurrency())),
                  td(w.paused() == null ? "" : w.paused() ? "paused" : "no"),
                  td(nz(w.isolation())),
                  td(String.join(", ", w.queues())),
                  td(shown(w.state())),
                  td(age(w.lastSeen(), now) + " ago"),
                  iff(
                      op,
                      td(
                          verb("stop", "worker", w.name(), "Stop"),
                          verb("kill", "worker", w.name(), "Kill"))))
              .attr("data-worker", w.name()));
    }
    out.put(
        "workers",
        render(
            rows,
            op ? 9 : 8,
            filter.isEmpty() ? "no worker heard from yet" : "no worker matches the filter"));
    out.put(
        "workers-pager",
        pager("workers", page, filter, "workers", "by name", "filter by name or host to narrow"));
  }

  /**
   * The running tasks' page that {@code view} shows, oldest first: puts {@code tasks} and {@code
   * tasks-pager}.
   */
  static void tasks(Fleet fleet, boolean op, View view, Map<String, String> out) {
    Instant now = Instant.now();
    String filter = view.taskFilter();
    View.Paged<Fleet.TaskView> page =
        View.Paged.of(
            fleet.running(),
            t -> View.matches(filter, t.id(), t.type(), t.worker()),
            view.taskPage());
    List<DomContent> rows = new ArrayList<>();
    for (Fleet.TaskView t : page.rows()) {
      TrTag row =
          tr(
                  td(code(t.id())),
                  td(nz(t.type())),
                  td(nz(t.worker())),
                  td(t.attempt() == null ? "" : t.attempt().toString()),
                  td(t.startedAt() == null ? "" : age(t.startedAt(), now)),
                  td(t.deadline() == null ? "" : "in " + age(now, t.deadline())),
                  td(nz(t.stage())),
                  td(
                      t.progress() == null
                          ? ""
                          : String.format(Locale.ROOT, "%.0f%%", t.progress() * 100)),
                  iff(
                      op,
                      td(
                          verb("stop", "task", t.id(), "Stop"),
                          verb("kill", "task", t.id(), "Kill"))))
              .attr("data-task", t.id());
      rows.add(row);
    }
    out.put(
        "tasks",
        render(
            rows,
            op ? 9 : 8,
            filter.isEmpty() ? "no task running" : "no running task matches the filter"));
    out.put(
        "tasks-pager",
        pager(
            "tasks",
            page,
            filter,
            "running tasks",
            "oldest first",
            "filter by task id, type or worker to narrow"));
  }

  static String commands(Fleet fleet) {
    List<DomContent> rows = new ArrayList<>();
    for (Fleet.CommandView c : fleet.commands()) {
      List<DomContent> acks = new ArrayList<>();
      c.answers().forEach((worker, what) -> acks.add(li(worker + ": " + what)));
      rows.add(
          tr(
                  td(c.message().command().wire() + (c.message().requeue() ? " (requeue)" : "")),
                  td(Targets.describe(c.message().target())),
                  td(nz(c.message().issuedBy())),
                  td(acks.isEmpty() ? text("waiting…") : ul(acks.toArray(DomContent[]::new))))
              .attr("data-command", c.message().id()));
    }
    return render(rows, 4, "none yet");
  }

  static String finished(Fleet fleet) {
    List<DomContent> rows = new ArrayList<>();
    for (Fleet.Finished f : fleet.finished()) {
      rows.add(
          tr(
                  td(code(f.id())),
                  td(nz(f.type())),
                  td(nz(f.worker())),
                  td(f.state()).withClass("state " + f.state()),
                  td(nz(f.cause())))
              .attr("data-task", f.id()));
    }
    return render(rows, 5, "nothing finished since the dashboard started");
  }

  static String queues(QueueStats.Snapshot s) {
    List<DomContent> rows = new ArrayList<>();
    for (int i = 0; i < s.taskQueues().size(); i++) {
      QueueStats.Counts q = s.taskQueues().get(i);
      QueueStats.Counts r = s.retryQueues().get(i);
      rows.add(
          tr(
                  td(q.queue()).withTitle(q.brokerName()),
                  td(n(q.ready())),
                  td(n(q.unacked())),
                  td(n(q.consumers())),
                  td(n(r.ready())))
              .attr("data-queue", q.queue()));
    }
    if (s.dead() != null) {
      rows.add(
          tr(
                  td("dead letters").withTitle(s.dead().brokerName()),
                  td(n(s.dead().ready())),
                  td(n(s.dead().unacked())),
                  td(n(s.dead().consumers())),
                  td(""))
              .attr("data-queue", "dead"));
    }
    return render(rows, 5, "no queue counted yet");
  }

  /** The search result page for one task id. */
  static String search(
      String namespace, Sessions.Session session, Fleet.Search s, List<DeadLetter> dead) {
    List<DomContent> parts = new ArrayList<>();
    parts.add(h1("Task " + s.id()));
    parts.add(p(a("back to the dashboard").withHref("/")));
    if (s.running() != null) {
      parts.add(
          p("running on "
                  + nz(s.running().worker())
                  + " (type "
                  + nz(s.running().type())
                  + ", attempt "
                  + s.running().attempt()
                  + ")")
              .withId("search-running"));
    }
    if (dead != null) {
      for (DeadLetter d : dead) {
        if (s.id().equals(d.id())) {
          parts.add(
              p("in the dead-letter queue: "
                      + nz(d.reason())
                      + (d.cause() == null ? "" : " (" + d.cause() + ")")
                      + ", from queue "
                      + nz(d.origin()))
                  .withId("search-dead"));
        }
      }
    }
    for (Fleet.Finished f : s.finished()) {
      parts.add(p("finished: " + f.state() + " (" + nz(f.cause()) + ") on " + nz(f.worker())));
    }
    List<DomContent> rows = new ArrayList<>();
    for (Fleet.EventView e : s.events()) {
      rows.add(tr(td(e.at().toString()), td(nz(e.state())), td(nz(e.worker())), td(nz(e.cause()))));
    }
    parts.add(h2("Recent events"));
    parts.add(
        table(
            thead(tr(th("at"), th("state"), th("worker"), th("cause"))),
            tbody(rawHtml(render(rows, 4, "no recent event for this id")))
                .withId("search-events")));
    return document(
        html(
            head(
                meta().withCharset("utf-8"),
                title("Conveyor dashboard: " + namespace + ": " + s.id()),
                link().withRel("stylesheet").withHref("/static/app.css")),
            body(main(parts.toArray(DomContent[]::new)))));
  }

  private static String render(List<DomContent> rows, int columns, String empty) {
    if (rows.isEmpty()) {
      return tr(td(empty).attr("colspan", columns).withClass("empty")).render();
    }
    StringBuilder out = new StringBuilder();
    rows.forEach(r -> out.append(r.render()));
    return out.toString();
  }

  /** A worker's state in words: up while it starts, beats or answers; else what it announced. */
  private static String shown(String state) {
    return state == null
        ? ""
        : switch (state) {
          case "started", "heartbeat", "running" -> "up";
          default -> state;
        };
  }

  private static String nz(String s) {
    return s == null ? "" : s;
  }

  private static String n(Long v) {
    return v == null ? "–" : v.toString();
  }

  /** A short human age: 12s, 3m 4s, 2h 5m. */
  static String age(Instant from, Instant to) {
    Duration d = Duration.between(from, to);
    if (d.isNegative()) {
      d = Duration.ZERO;
    }
    long s = d.toSeconds();
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return (s / 60) + "m " + (s % 60) + "s";
    }
    return (s / 3600) + "h " + ((s % 3600) / 60) + "m";
  }
}
