// The Conveyor dashboard's page script: swaps in the tables the server renders and sends over
// Server-Sent Events (of the long tables, only the page this browser shows), keeps the event tail
// and the chart, and posts commands with the CSRF token.
// No inline script anywhere: the Content-Security-Policy allows only this file and uPlot.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const operator = document.body.dataset.role === "operator";
  const TAIL = 500;
  let tail = []; // newest first
  let chart = null;

  const flash = (text, bad) => {
    const f = $("flash");
    f.textContent = text;
    f.className = bad ? "bad" : "good";
  };

  // --- what this page shows of the long tables: ?tq=&tp= (running tasks), ?wq=&wp= (workers) ---
  const view = new URLSearchParams(location.search);
  const viewQuery = () => {
    const q = new URLSearchParams();
    for (const k of ["tq", "tp", "wq", "wp"]) {
      const v = view.get(k);
      if (v && !(k.endsWith("p") && v === "1")) q.set(k, v);
    }
    return q.toString();
  };

  // Swaps a table body in row by row: a row equal to the one it replaces stays as it is, so only
  // the rows that changed on the visible page are touched in the DOM.
  function patch(el, html) {
    if (el.tagName !== "TBODY") { el.innerHTML = html; return; }
    const t = document.createElement("template");
    t.innerHTML = html;
    const fresh = Array.from(t.content.children);
    for (let i = 0; i < fresh.length; i++) {
      const old = el.children[i];
      if (!old) el.appendChild(fresh[i]);
      else if (!old.isEqualNode(fresh[i])) el.replaceChild(fresh[i], old);
    }
    while (el.children.length > fresh.length) el.lastElementChild.remove();
  }

  // --- live updates ---------------------------------------------------------------------------
  let stream = null;
  function connect() {
    const q = viewQuery();
    stream = new EventSource("/stream" + (q ? "?" + q : ""));
    stream.addEventListener("open", () => { $("live").className = "on"; });
    stream.addEventListener("error", () => { $("live").className = "off"; });
    stream.addEventListener("state", (e) => {
      const state = JSON.parse(e.data);
      for (const [name, html] of Object.entries(state)) {
        const el = $(name);
        if (el && typeof html === "string") patch(el, html);
      }
    });
    stream.addEventListener("history", (e) => { tail = []; addEvents(JSON.parse(e.data)); });
    stream.addEventListener("events", (e) => addEvents(JSON.parse(e.data)));
    stream.addEventListener("chart", (e) => drawChart(JSON.parse(e.data)));
  }
  // A new view is a new stream: the server then sends this page's rows only.
  function show() {
    const q = viewQuery();
    history.replaceState(null, "", location.pathname + (q ? "?" + q : ""));
    if (stream) stream.close();
    connect();
  }
  for (const [input, filterKey, pageKey] of [["tasks-filter", "tq", "tp"], ["workers-filter", "wq", "wp"]]) {
    let timer = null;
    $(input).addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const v = $(input).value.trim();
        if (v === (view.get(filterKey) || "")) return;
        if (v) view.set(filterKey, v); else view.delete(filterKey);
        view.delete(pageKey);
        show();
      }, 300);
    });
  }
  document.addEventListener("click", (e) => {
    const b = e.target.closest("button.page");
    if (!b) return;
    view.set(b.dataset.table === "workers" ? "wp" : "tp", b.dataset.page);
    show();
  });
  const addEvents = (list) => {
    for (const ev of list) tail.unshift(ev);
    if (tail.length > TAIL) tail.length = TAIL;
    renderTail();
  };

  // --- event tail -------------------------------------------------------------------------------
  const filters = ["f-task", "f-type", "f-state"];
  for (const id of filters) $(id).addEventListener("input", renderTail);
  function renderTail() {
    const [task, type, state] = filters.map((id) => $(id).value.trim().toLowerCase());
    const body = $("events");
    const rows = [];
    for (const ev of tail) {
      if (task && !(ev.task || "").toLowerCase().includes(task)) continue;
      if (type && !(ev.type || "").toLowerCase().includes(type)) continue;
      if (state && !(ev.state || "").toLowerCase().includes(state)) continue;
      const tr = document.createElement("tr");
      tr.dataset.task = ev.task || "";
      const cells = [
        (ev.at || "").replace("T", " ").replace(/\.\d+Z$/, "Z"),
        ev.kind + "." + (ev.state || ""),
        ev.task, ev.type, ev.worker,
        [ev.cause, ev.reason].filter(Boolean).join(": "),
        ev.issuedBy,
      ];
      for (const c of cells) {
        const td = document.createElement("td");
        td.textContent = c == null ? "" : String(c);
        tr.appendChild(td);
      }
      rows.push(tr);
      if (rows.length >= 200) break;
    }
    body.replaceChildren(...rows);
  }

  // --- chart ------------------------------------------------------------------------------------
  function drawChart(data) {
    if (typeof uPlot === "undefined") return;
    const el = $("chart");
    if (!chart) {
      chart = new uPlot({
        width: Math.max(300, el.clientWidth || 800),
        height: 200,
        series: [
          {},
          { label: "succeeded", stroke: "#2a7" },
          { label: "failed", stroke: "#c33" },
          { label: "cancelled", stroke: "#c80" },
        ],
        axes: [{}, { label: "per second" }],
      }, data, el);
    } else {
      chart.setData(data);
    }
  }

  // --- commands ---------------------------------------------------------------------------------
  async function post(url, fields) {
    const body = new URLSearchParams(fields);
    const r = await fetch(url, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      body,
      credentials: "same-origin",
    });
    const text = await r.text();
    if (!r.ok) throw new Error(r.status + " " + text);
    return text ? JSON.parse(text) : {};
  }

  if (operator) {
    // Dead letters: replay or purge one or all, each only once the operator confirmed it.
    document.addEventListener("click", async (e) => {
      const b = e.target.closest("button.dead-act");
      if (!b) return;
      const action = b.dataset.action;
      const all = b.dataset.all === "true";
      const id = b.dataset.id || "";
      const what = all ? "every dead letter" : "dead letter " + id;
      const question = action === "purge"
        ? "Purge " + what + "? It is deleted for good."
        : "Replay " + what + " to its task queue, with fresh attempts?";
      if (!confirm(question)) return;
      b.disabled = true;
      try {
        const r = await post("/api/dead", { action, all: all ? "true" : "false", id, confirm: "yes" });
        const missing = r.notFound && r.notFound.length ? "; not found: " + r.notFound.join(", ") : "";
        if (action === "replay") {
          const skipped = r.skipped.map((s) => (s.id ?? "a letter without an id") + " (" + s.reason + ")").join(", ");
          flash("Replayed " + r.replayed.length + " of " + r.target
            + (skipped ? "; kept " + skipped : "") + missing + ".", !!(skipped || missing));
        } else {
          flash("Purged " + r.purged + " of " + r.target + missing + ".", !!missing);
        }
      } catch (err) {
        flash("Refused: " + err.message, true);
        b.disabled = false;
      }
    });
    document.addEventListener("click", async (e) => {
      const b = e.target.closest("button.act");
      if (!b) return;
      const verb = b.dataset.verb;
      const kind = b.dataset.kind;
      let value = b.dataset.value;
      if (kind === "type") value = $("type-target").value.trim();
      if (kind === "type" && !value) { flash("Enter a task type first.", true); return; }
      const what = kind === "all" ? "every running task" : kind + " " + value;
      if ((kind !== "task" || verb === "kill") && !confirm(verb + " " + what + "?")) return;
      b.disabled = true;
      try {
        const requeue = $("requeue") && $("requeue").checked ? "true" : "false";
        const r = await post("/api/command", { verb, kind, value: value || "", requeue });
        flash(verb + " sent to " + r.target + " (command " + r.id + "); acknowledgements below.");
      } catch (err) {
        flash("Refused: " + err.message, true);
        b.disabled = false;
      }
    });
  }

  connect();
})();
