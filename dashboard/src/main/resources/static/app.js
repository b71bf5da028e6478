// The Conveyor dashboard's page script: swaps in the tables the server renders and sends over
// Server-Sent Events, keeps the event tail and the chart, and posts commands with the CSRF token.
// No inline script anywhere: the Content-Security-Policy allows only this file and uPlot.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const operator = document.body.dataset.role === "operator";
  const TABLES = ["workers", "tasks", "commands", "finished", "queues", "dead", "dead-summary"];
  const TAIL = 500;
  let tail = []; // newest first
  let chart = null;

  const flash = (text, bad) => {
    const f = $("flash");
    f.textContent = text;
    f.className = bad ? "bad" : "good";
  };

  // --- live updates ---------------------------------------------------------------------------
  const stream = new EventSource("/stream");
  stream.addEventListener("open", () => { $("live").className = "on"; });
  stream.addEventListener("error", () => { $("live").className = "off"; });
  stream.addEventListener("state", (e) => {
    const state = JSON.parse(e.data);
    for (const name of TABLES) {
      if (typeof state[name] === "string") $(name).innerHTML = state[name];
    }
  });
  const addEvents = (list) => {
    for (const ev of list) tail.unshift(ev);
    if (tail.length > TAIL) tail.length = TAIL;
    renderTail();
  };
  stream.addEventListener("history", (e) => { tail = []; addEvents(JSON.parse(e.data)); });
  stream.addEventListener("events", (e) => addEvents(JSON.parse(e.data)));
  stream.addEventListener("chart", (e) => drawChart(JSON.parse(e.data)));

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
          const skipped = r.skipped.map((s) => s.id + " (" + s.reason + ")").join(", ");
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
})();
