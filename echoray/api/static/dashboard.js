// The cognitive dashboard (echoray/api/routes/dashboard.py serves it). Plain JS, no
// libraries: the page reads the admin endpoints with the key it is given and draws the
// affect plane and the link graph as SVG. Memory texts are user content: they only ever
// go into the page as text nodes, never as markup.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const API = "/v1/admin/dashboard";
const KINDS = ["episodic", "semantic", "reflection", "procedural"];
const FIGURES_EVERY_MS = 5000;

const state = { key: "", tenant: "", user: "", memories: [], cursor: null, selected: null };
let figuresTimer = null;

// --- DOM helpers ---------------------------------------------------------------------

function $(id) {
  return document.getElementById(id);
}

function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

function say(message, isError) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", Boolean(isError));
}

// --- formatting ----------------------------------------------------------------------

function num(value, digits = 2) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function count(value) {
  return value === null || value === undefined ? "–" : Math.round(value).toLocaleString("en");
}

function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

function short(text, chars) {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

function kindCell(kind) {
  return el("td", { class: `kind kind-${kind}` }, kind);
}

// --- the API -------------------------------------------------------------------------

async function api(path, params, options = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  const headers = { accept: "application/json" };
  if (state.key) headers.authorization = `Bearer ${state.key}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(url, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

function who() {
  return { tenant: state.tenant, user: state.user };
}

// --- loading -------------------------------------------------------------------------

async function loadAll() {
  state.key = $("key").value.trim();
  state.tenant = $("tenant").value.trim();
  state.user = $("user").value.trim();
  sessionStorage.setItem("echoray-dashboard", JSON.stringify(who()));
  say("Loading…");
  try {
    await Promise.all([loadMemories(), loadTraces(), loadConsolidation(), loadArchive()]);
    await loadFigures();
    say(`Showing ${state.user} of tenant ${state.tenant}.`);
    scheduleFigures();
  } catch (error) {
    say(error.message, true);
  }
}

async function loadMemories(more = false) {
  const query = $("query").value.trim();
  const page = await api(`${API}/memories`, {
    ...who(),
    query,
    limit: 50,
    cursor: more ? state.cursor : null,
  });
  state.memories = more ? state.memories.concat(page.data) : page.data;
  state.cursor = page.next_cursor;
  $("more").hidden = !state.cursor;
  renderMemories();
  if (!more && state.memories.length && !state.memories.some((m) => m.id === state.selected)) {
    await selectMemory(state.memories[0].id);
  } else if (!state.memories.length) {
    state.selected = null;
    renderGraph(null);
  }
}

async function loadTraces() {
  renderTraces((await api(`${API}/traces`, { ...who(), limit: 20 })).data);
}

async function loadConsolidation() {
  renderConsolidation(await api(`${API}/consolidation`, { tenant: state.tenant }));
}

async function loadArchive() {
  renderArchive((await api(`${API}/archive`, { ...who(), limit: 50 })).data);
}

async function loadFigures() {
  renderFigures(await api(`${API}/figures`));
  $("figures-at").textContent = `at ${new Date().toLocaleTimeString("en-GB")}`;
}

function scheduleFigures() {
  if (figuresTimer !== null) clearInterval(figuresTimer);
  figuresTimer = null;
  if (!$("live").checked) return;
  figuresTimer = setInterval(() => loadFigures().catch((e) => say(e.message, true)), FIGURES_EVERY_MS);
}

async function selectMemory(id) {
  state.selected = id;
  for (const row of document.querySelectorAll("#memories tbody tr")) {
    row.classList.toggle("selected", row.dataset.id === id);
  }
  renderAffect();
  const graph = await api(`${API}/graph`, { ...who(), memory: id, depth: $("depth").value });
  if (state.selected === id) renderGraph(graph); // not a later pick's graph overwritten
}

// --- memories and the affect plane ----------------------------------------------------

function shown() {
  const kind = $("kind").value;
  return state.memories.filter((m) => !kind || m.kind === kind);
}

function renderMemories() {
  const memories = shown();
  $("memories-count").textContent = `${memories.length} shown`;
  const body = clear(document.querySelector("#memories tbody"));
  for (const m of memories) {
    body.append(
      el(
        "tr",
        {
          "data-id": m.id,
          class: m.id === state.selected ? "selected" : null,
          onclick: () => selectMemory(m.id).catch((e) => say(e.message, true)),
        },
        el("td", { class: "text", title: m.id }, m.text, m.pinned ? " 📌" : null),
        kindCell(m.kind),
        el("td", { class: "num" }, num(m.importance)),
        el("td", { class: "num" }, num(m.valence)),
        el("td", { class: "num" }, num(m.arousal)),
        el("td", { class: "num" }, num(m.strength)),
        el("td", { class: "num" }, ago(m.created_at)),
        el("td", { class: "num" }, m.last_accessed ? `${ago(m.last_accessed)} ago` : "never"),
        el("td", { class: "num" }, m.access_count),
        el("td", { class: "num" }, m.score === null ? "" : num(m.score, 3)),
      ),
    );
  }
  renderAffect();
}

function renderAffect() {
  // valence -1 .. 1 across, arousal 0 .. 1 up; a point's size is its strength.
  const plane = clear($("affect"));
  const [w, h, pad] = [420, 280, 30];
  const x = (v) => pad + ((v + 1) / 2) * (w - 2 * pad);
  const y = (a) => h - pad - a * (h - 2 * pad);
  plane.append(
    svg("rect", { x: pad, y: pad, width: w - 2 * pad, height: h - 2 * pad, fill: "none", class: "axis" }),
    svg("line", { x1: x(0), y1: y(0), x2: x(0), y2: y(1), class: "axis" }),
    svg("line", { x1: x(-1), y1: y(0.5), x2: x(1), y2: y(0.5), class: "axis" }),
    svg("text", { x: pad, y: h - 10 }, "unpleasant"),
    svg("text", { x: w - pad, y: h - 10, "text-anchor": "end" }, "pleasant"),
    svg("text", { x: w / 2, y: h - 10, "text-anchor": "middle" }, "valence"),
    svg("text", { x: 4, y: pad - 8 }, "excited (arousal 1)"),
    svg("text", { x: 4, y: h - pad + 12 }, "calm"),
  );
  for (const m of shown()) {
    plane.append(
      svg(
        "circle",
        {
          cx: x(m.valence).toFixed(1),
          cy: y(m.arousal).toFixed(1),
          r: (3 + 7 * m.strength).toFixed(1),
          class: `point fill-${m.kind}${m.id === state.selected ? " selected" : ""}`,
          "data-id": m.id,
          onclick: () => selectMemory(m.id).catch((e) => say(e.message, true)),
        },
        svg("title", {}, `${m.text}\nvalence ${num(m.valence)}, arousal ${num(m.arousal)}`),
      ),
    );
  }
  const legend = clear($("kinds-legend"));
  for (const kind of KINDS) legend.append(el("span", { class: `kind kind-${kind}` }, `● ${kind}`));
}

// --- the link graph --------------------------------------------------------------------

function renderGraph(graph) {
  const canvas = clear($("graph"));
  const caption = $("graph-caption");
  if (!graph) {
    caption.textContent = "Pick a memory in the table or the plane.";
    return;
  }
  const center = graph.nodes.find((n) => n.id === graph.center);
  caption.textContent =
    `${graph.nodes.length - 1} linked memories, ${graph.links.length} links around “${short(center.text, 60)}”` +
    (graph.truncated ? " (the nearest only)" : "");
  const [w, h] = [420, 320];
  const rings = { 0: 0, 1: 100, 2: 150 };
  const place = {};
  for (const depth of [0, 1, 2]) {
    const ring = graph.nodes.filter((n) => n.depth === depth);
    ring.forEach((n, i) => {
      const angle = (2 * Math.PI * i) / ring.length - Math.PI / 2 + depth * 0.3;
      place[n.id] = [w / 2 + rings[depth] * Math.cos(angle), h / 2 + rings[depth] * 0.95 * Math.sin(angle)];
    });
  }
  for (const link of graph.links) {
    const [a, b] = [place[link.src], place[link.dst]];
    canvas.append(
      svg(
        "line",
        {
          x1: a[0].toFixed(1), y1: a[1].toFixed(1), x2: b[0].toFixed(1), y2: b[1].toFixed(1),
          class: `link link-${link.kind}`,
          "stroke-width": (1 + 3 * link.weight).toFixed(1),
        },
        svg("title", {}, `${link.kind} link, weight ${num(link.weight)}`),
      ),
    );
  }
  for (const n of graph.nodes) {
    const [cx, cy] = place[n.id];
    canvas.append(
      svg(
        "g",
        { class: "graph-node", "data-id": n.id },
        svg(
          "circle",
          {
            cx: cx.toFixed(1), cy: cy.toFixed(1), r: (7 + 9 * n.importance).toFixed(1),
            class: `node fill-${n.kind}${n.depth === 0 ? " selected" : ""}`,
            "data-id": n.id,
            onclick: () => selectMemory(n.id).catch((e) => say(e.message, true)),
          },
          svg("title", {}, `${n.text}\n${n.kind}, strength ${num(n.strength)}`),
        ),
        svg("text", { x: cx.toFixed(1), y: (cy + 26).toFixed(1), "text-anchor": "middle", class: "node-label" }, short(n.text, 24)),
      ),
    );
  }
  const kinds = [...new Set(graph.links.map((l) => l.kind))].sort();
  if (kinds.length) canvas.append(svg("text", { x: 6, y: 14 }, `links: ${kinds.join(", ")}`));
}

// --- recent chats ------------------------------------------------------------------------

function renderTraces(traces) {
  const list = clear($("traces"));
  if (!traces.length) list.append(el("p", { class: "reasons" }, "No memory chats of this user since the gateway started."));
  for (const t of traces) {
    const trace = t.trace || {};
    const recalled = trace.memories || [];
    const stages = trace.stages_ms || {};
    const total = Object.values(stages).reduce((a, b) => a + b, 0);
    list.append(
      el(
        "details",
        { class: "trace", "data-request-id": t.request_id, open: list.childElementCount === 0 },
        el(
          "summary",
          {},
          `${new Date(t.at).toLocaleTimeString("en-GB")} · ${t.model} · “${short(t.query, 80)}” · `,
          `${recalled.length} recalled · ${num(total, 1)} ms`,
          (trace.degraded || []).length ? el("span", { class: "degraded" }, " · degraded") : null,
        ),
        el("p", { class: "answer" }, t.answer),
        recalledTable(recalled),
        (trace.dropped || []).length
          ? el("p", { class: "reasons" }, "dropped: ", trace.dropped.map((d) => `${d.id} (${d.reason})`).join(", "))
          : null,
        (trace.degraded || []).length ? el("p", { class: "degraded" }, "degraded: ", trace.degraded.join("; ")) : null,
        trace.query_affect
          ? el("p", { class: "reasons" }, `query affect: valence ${num(trace.query_affect.valence)}, arousal ${num(trace.query_affect.arousal)}`)
          : null,
        trace.context_tokens !== undefined
          ? el("p", { class: "reasons" }, `context: ${trace.context_tokens} of ${trace.budget_tokens} tokens`)
          : null,
        stageBars(stages),
      ),
    );
  }
}

function recalledTable(recalled) {
  if (!recalled.length) return el("p", { class: "reasons" }, "Nothing recalled.");
  return el(
    "table",
    { class: "recalled" },
    el("thead", {}, el("tr", {}, ["memory", "kind", "score", "why"].map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      recalled.map((m) =>
        el(
          "tr",
          { "data-id": m.id },
          el("td", { class: "text" }, m.text),
          kindCell(m.kind),
          el("td", { class: "num" }, num(m.score, 3)),
          el(
            "td",
            { class: "reasons" },
            (m.reasons || []).length ? [m.reasons.join("; "), el("br")] : null,
            Object.entries(m.components || {}).map(([k, v]) => `${k} ${num(v)}`).join(" · "),
          ),
        ),
      ),
    ),
  );
}

function stageBars(stages) {
  const entries = Object.entries(stages);
  if (!entries.length) return null;
  const most = Math.max(...entries.map(([, ms]) => ms), 0.001);
  const row = 16;
  const chart = svg("svg", { class: "stage-bars", viewBox: `0 0 420 ${entries.length * row + 4}` });
  entries.forEach(([stage, ms], i) => {
    const y = i * row + 2;
    chart.append(
      svg("text", { x: 96, y: y + 11, "text-anchor": "end" }, stage),
      svg("rect", { x: 100, y, width: Math.max(1, (ms / most) * 250).toFixed(1), height: row - 4, class: "bar" }),
      svg("text", { x: 356, y: y + 11 }, `${num(ms, 1)} ms`),
    );
  });
  return chart;
}

// --- consolidation and the archive ---------------------------------------------------------

function renderConsolidation(view) {
  const totals = Object.entries(view.totals).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`);
  $("consolidation-summary").textContent =
    `${view.enabled ? "Scheduled" : "Not scheduled"}` +
    (view.next_run_at ? `, next run ${new Date(view.next_run_at).toLocaleString("en-GB")}` : "") +
    `. Since the scheduler started: ${totals.join(", ") || "nothing yet"}.`;
  const body = clear(document.querySelector("#runs tbody"));
  for (const run of [...view.running, ...view.history]) {
    const did = Object.entries(run.counts || {}).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`);
    const took = run.finished_at ? `${num((Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000, 1)} s` : "…";
    body.append(
      el(
        "tr",
        { "data-run-id": run.run_id },
        el("td", {}, `${ago(run.started_at)} ago`),
        el("td", {}, run.state),
        el("td", {}, run.tenant || "every tenant"),
        el("td", {}, did.join(", ") || "nothing"),
        el("td", { class: "num" }, took),
      ),
    );
  }
}

function renderArchive(archived) {
  const body = clear(document.querySelector("#archive tbody"));
  if (!archived.length) body.append(el("tr", {}, el("td", { colspan: 4, class: "reasons" }, "Nothing archived.")));
  for (const m of archived) {
    body.append(
      el(
        "tr",
        { "data-id": m.id },
        el("td", { class: "text", title: m.id }, m.text),
        el("td", {}, m.archive_reason),
        el("td", { class: "num" }, `${ago(m.archived_at)} ago`),
        el("td", {}, el("button", { type: "button", class: "restore", "data-id": m.id, onclick: (e) => restore(m, e.target) }, "Restore")),
      ),
    );
  }
}

async function restore(memory, button) {
  button.disabled = true;
  try {
    await api(`${API}/archive/${encodeURIComponent(memory.id)}/restore`, null, { method: "POST", body: who() });
    say(`Restored “${short(memory.text, 60)}”.`);
    await Promise.all([loadMemories(), loadArchive()]);
  } catch (error) {
    button.disabled = false;
    say(error.message, true);
  }
}

async function consolidate(button) {
  button.disabled = true;
  say("Consolidating…");
  try {
    const run = await api("/v1/admin/consolidate", null, { method: "POST", body: { tenant: state.tenant, wait: true } });
    say(`Consolidation ${run.state}.`);
    await Promise.all([loadMemories(), loadConsolidation(), loadArchive()]);
  } catch (error) {
    say(error.message, true);
  } finally {
    button.disabled = false;
  }
}

// --- live figures ------------------------------------------------------------------------

function renderFigures(f) {
  const box = clear($("figures"));
  const req = f.requests;
  const figure = (value, label) => el("div", { class: "figure" }, el("b", {}, value), el("span", {}, label));
  box.append(
    el(
      "div",
      { class: "figures" },
      figure(count(req.total), "requests"),
      Object.entries(req.by_status).map(([status, n]) => figure(count(n), status)),
      figure(count(req.in_flight), "in flight"),
      figure(count(req.refused), "refused (429/503)"),
      figure(count(Object.values(f.memories_ingested).reduce((a, b) => a + b, 0)), "memories written"),
      figure(count(f.consolidation.items.archived || 0), "archived by consolidation"),
    ),
    el(
      "div",
      { class: "tables" },
      table("Latency by route (since start)", ["route", "count", "mean ms", "p50 ms", "p95 ms"],
        f.latency.slice(0, 8).map((r) => [`${r.method} ${r.route}`, count(r.count), num(r.mean_ms, 1), num(r.p50_ms, 1), num(r.p95_ms, 1)])),
      table("Models", ["model", "waiting", "decoding", "tokens in", "tokens out", "TTFT p50 ms"],
        f.models.map((m) => [m.model, count(m.waiting), count(m.decoding), count(m.tokens_in), count(m.tokens_out), num(m.ttft_p50_ms, 1)])),
      table("Memory shards", ["shard", "up", "memories", "working set", "turns since consolidation"],
        f.shards.map((s) => [s.shard, s.up ? "yes" : "no", count(s.memories), `${num((s.bytes || 0) / 1048576, 1)} MiB`, count(s.pending_turns)])),
      table("Pipeline stages", ["stage", "count", "p50 ms", "p95 ms"],
        f.stages.map((s) => [s.stage, count(s.count), num(s.p50_ms, 2), num(s.p95_ms, 2)])),
    ),
  );
}

function table(title, headers, rows) {
  return el(
    "div",
    {},
    el("h3", {}, title),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.length ? rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c)))) : el("tr", {}, el("td", { colspan: headers.length, class: "reasons" }, "none yet"))),
    ),
  );
}

// --- start -------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  const saved = JSON.parse(sessionStorage.getItem("echoray-dashboard") || "{}");
  if (saved.tenant) $("tenant").value = saved.tenant;
  if (saved.user) $("user").value = saved.user;
  $("who").addEventListener("submit", (event) => {
    event.preventDefault();
    loadAll();
  });
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    loadMemories().catch((e) => say(e.message, true));
  });
  $("kind").addEventListener("change", renderMemories);
  $("more").addEventListener("click", () => loadMemories(true).catch((e) => say(e.message, true)));
  $("depth").addEventListener("change", () => state.selected && selectMemory(state.selected).catch((e) => say(e.message, true)));
  $("live").addEventListener("change", scheduleFigures);
  $("consolidate").addEventListener("click", (event) => consolidate(event.target));
});
