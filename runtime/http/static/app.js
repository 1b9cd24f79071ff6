// app.js: the rayl dashboard: polls the head's /api/ every second and redraws the view
// shown. Every value from the cluster goes in as text (never as HTML).
"use strict";

const POLL_MS = 1000;
const HISTORY = 300; // chart points kept (5 minutes)

// The token from ?token= (as `rayl dashboard` prints the URL), kept for this tab.
const token = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("rayl_token") || "";
if (token) sessionStorage.setItem("rayl_token", token);

async function api(path, method) {
  const headers = token ? { "X-Rayl-Token": token } : {};
  const r = await fetch(path, { method: method || "GET", headers, cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function short(id) { return id ? id.slice(0, 12) : "-"; }
function bytes(n) {
  if (n == null) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}
function when(ms) { return ms ? new Date(ms).toLocaleString() : "-"; }
function age(ms) {
  const s = ms / 1000;
  if (s < 1) return Math.round(ms) + "ms";
  if (s < 60) return s.toFixed(1) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
}
function shape(res) { return Object.entries(res).map(([k, v]) => k + ": " + v).join(", "); }

// Replaces tbody's rows: each row a list of cells, a cell a string or {text, cls} or a Node.
function fill(tableId, rows) {
  const tbody = document.querySelector("#" + tableId + " tbody");
  const out = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement("tr");
    if (row.group) { // a group's title over the whole row
      const td = document.createElement("td");
      td.colSpan = 99;
      td.textContent = row.group;
      tr.className = "group";
      tr.appendChild(td);
      out.appendChild(tr);
      continue;
    }
    for (const cell of row) {
      const td = document.createElement("td");
      if (cell instanceof Node) td.appendChild(cell);
      else if (cell && typeof cell === "object") { td.textContent = cell.text; if (cell.cls) td.className = cell.cls; }
      else td.textContent = cell == null ? "-" : String(cell);
      tr.appendChild(td);
    }
    out.appendChild(tr);
  }
  tbody.replaceChildren(out);
}

function setStatus(text, bad) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = bad ? "status error" : "status";
}

// ---- overview ----

let taskChart = null, memChart = null;
function makeCharts() {
  if (typeof Chart === "undefined") return;
  const opts = (title) => ({ animation: false, responsive: true, maintainAspectRatio: false,
    plugins: { title: { display: true, text: title } }, scales: { x: { ticks: { maxTicksLimit: 6 } } } });
  const line = (label, color) => ({ label, data: [], borderColor: color, backgroundColor: color, pointRadius: 0,
    borderWidth: 2, tension: 0.2 });
  taskChart = new Chart(document.getElementById("chart-tasks"), { type: "line", data: { labels: [], datasets: [
    line("running", "#1565c0"), line("submitted", "#f9a825"), line("finished", "#2e7d32"), line("failed", "#c62828")] },
    options: opts("Tasks") });
  const mopts = opts("Memory (GiB)");
  memChart = new Chart(document.getElementById("chart-memory"), { type: "line", data: { labels: [], datasets: [
    line("object store used", "#6a1b9a"), line("machine memory used", "#00838f")] }, options: mopts });
}

function push(chart, label, values) {
  if (!chart) return;
  chart.data.labels.push(label);
  values.forEach((v, i) => chart.data.datasets[i].data.push(v));
  if (chart.data.labels.length > HISTORY) {
    chart.data.labels.shift();
    chart.data.datasets.forEach((d) => d.data.shift());
  }
  chart.update("none");
}

async function overview() {
  const [c, nodes, recent] = await Promise.all([api("/api/cluster"), api("/api/nodes"),
    api("/api/tasks?limit=20"), pending("pending-table", "pending-none")]);
  const cpuTotal = c.resources_total.CPU || 0, cpuFree = c.resources_available.CPU || 0;
  document.getElementById("node-count").textContent = c.nodes_alive;
  document.getElementById("cpu-used").textContent = (cpuTotal - cpuFree).toFixed(1) + " / " + cpuTotal;
  document.getElementById("tasks-running").textContent = c.tasks.RUNNING;
  document.getElementById("tasks-finished").textContent = c.tasks.FINISHED;
  document.getElementById("tasks-failed").textContent = c.tasks.FAILED;
  document.getElementById("store-used").textContent = bytes(c.stats.store_used) + " / " + bytes(c.stats.store_capacity);
  const t = new Date(c.time_ms).toLocaleTimeString();
  push(taskChart, t, [c.tasks.RUNNING, c.tasks.SUBMITTED, c.tasks.FINISHED, c.tasks.FAILED]);
  push(memChart, t, [c.stats.store_used / 2 ** 30, (c.stats.mem_total - c.stats.mem_available) / 2 ** 30]);
  fill("nodes-table", nodes.map((n) => {
    const tot = n.resources_total.CPU || 0, free = n.resources_available.CPU || 0;
    return [{ text: short(n.node_id), cls: "mono" }, n.address + (n.is_head ? " (head)" : ""),
      { text: n.state, cls: "state-" + n.state }, (tot - free).toFixed(1) + " / " + tot,
      bytes(n.stats.mem_total - n.stats.mem_available) + " / " + bytes(n.stats.mem_total),
      bytes(n.stats.store_used) + " / " + bytes(n.stats.store_capacity),
      n.stats.workers_leased + " / " + n.stats.workers, n.stats.queued, n.stats.load1.toFixed(2)];
  }));
  fill("recent-tasks", recent.tasks.map((x) => [{ text: short(x.task_id), cls: "mono" }, x.name,
    { text: x.state, cls: "state-" + x.state }, { text: short(x.node_id), cls: "mono" }, errorCell(x)]));
}

// Why demands wait (as `rayl status`): each group's node, shape, count and blocker.
async function pending(tableId, noneId) {
  const r = await api("/api/pending");
  document.getElementById(tableId).hidden = r.groups.length === 0;
  if (noneId) document.getElementById(noneId).hidden = r.groups.length !== 0;
  else document.getElementById("tasks-pending-box").hidden = r.groups.length === 0;
  fill(tableId, r.groups.map((g) => [{ text: short(g.node_id), cls: "mono" }, "{" + shape(g.shape) + "}",
    g.count + "+", { text: g.infeasible ? "INFEASIBLE" : "PENDING", cls: g.infeasible ? "state-FAILED" : "" },
    g.blocker]));
}

// ---- jobs ----

let jobShown = null;
async function jobs() {
  const list = await api("/api/jobs");
  fill("jobs-table", list.map((j) => {
    const cell = document.createElement("span");
    const logs = document.createElement("button");
    logs.textContent = "logs";
    logs.onclick = () => { jobShown = j.submission_id; refresh(); };
    cell.appendChild(logs);
    if (j.status === "RUNNING" || j.status === "PENDING") {
      const stop = document.createElement("button");
      stop.textContent = "stop";
      stop.onclick = async () => {
        try { await api("/api/jobs/" + encodeURIComponent(j.submission_id) + "/stop", "POST"); refresh(); }
        catch (e) { alert("cannot stop: " + e.message); }
      };
      cell.appendChild(stop);
    }
    return [{ text: j.submission_id, cls: "mono" }, { text: j.status, cls: "state-" + j.status }, j.entrypoint,
      when(j.start_time), when(j.end_time), j.message, cell];
  }));
  const title = document.getElementById("job-log-title"), pre = document.getElementById("job-log");
  title.hidden = pre.hidden = !jobShown;
  if (jobShown) {
    const l = await api("/api/jobs/" + encodeURIComponent(jobShown) + "/logs?lines=500");
    title.textContent = "Logs of " + jobShown;
    pre.textContent = l.lines.join("\n");
  }
}

// ---- actors, tasks, objects, logs ----

async function actors() {
  const state = document.getElementById("actor-state").value;
  const r = await api("/api/actors?limit=1000" + (state ? "&state=" + state : ""));
  fill("actors-table", r.actors.map((a) => [{ text: short(a.actor_id), cls: "mono" }, a.class_name, a.name,
    { text: a.state, cls: "state-" + a.state }, a.num_restarts, { text: short(a.node_id), cls: "mono" }, a.pid,
    a.is_detached ? "yes" : "no", a.death_cause]));
}

let taskOffset = 0;
const TASK_PAGE = 100;
async function tasks() {
  const state = document.getElementById("task-state").value, name = document.getElementById("task-name").value;
  let q = "/api/tasks?limit=" + TASK_PAGE + "&offset=" + taskOffset;
  if (state) q += "&state=" + state;
  if (name) q += "&name=" + encodeURIComponent(name);
  const [r] = await Promise.all([api(q), pending("tasks-pending")]);
  document.getElementById("task-page").textContent = r.total ? (taskOffset + 1) + "–" +
    Math.min(taskOffset + TASK_PAGE, r.total) + " of " + r.total : "none";
  fill("tasks-table", r.tasks.map((x) => [{ text: short(x.task_id), cls: "mono" }, x.name, x.type,
    { text: x.state, cls: "state-" + x.state }, x.attempt_number, { text: short(x.node_id), cls: "mono" },
    x.worker_pid || "-", errorCell(x)]));
}

// A failed task's error type, with its message and remote traceback unfolded on a click
// (and kept unfolded across redraws).
const openErrors = new Set();
function errorCell(x) {
  if (!x.error_type) return "-";
  if (!x.error_message) return { text: x.error_type, cls: "state-FAILED" };
  const d = document.createElement("details");
  const s = document.createElement("summary");
  s.textContent = x.error_type;
  s.className = "state-FAILED";
  const pre = document.createElement("pre");
  pre.className = "traceback";
  pre.textContent = x.error_message;
  d.append(s, pre);
  d.open = openErrors.has(x.task_id);
  d.ontoggle = () => { if (d.open) openErrors.add(x.task_id); else openErrors.delete(x.task_id); };
  return d;
}

async function objects() {
  const r = await api("/api/objects");
  document.getElementById("objects-summary").textContent = r.objects + " objects, " + bytes(r.store_used) +
    " of " + bytes(r.store_capacity) + " in the stores, " + r.spilled + " spilled";
  fill("objects-table", r.nodes.map((n) => [{ text: short(n.node_id), cls: "mono" }, n.address,
    bytes(n.store_used), bytes(n.store_capacity), n.objects, n.spilled]));
  const m = await api("/api/memory");
  const summary = document.getElementById("mem-summary");
  if (m.pending) { summary.textContent = "asking every driver and worker…"; return; }
  const groupBy = document.getElementById("mem-group").value, sortBy = document.getElementById("mem-sort").value;
  const groups = new Map();
  for (const o of m.objects) {
    const key = groupBy === "node" ? "node " + short(o.node_id) + "  " + o.address
      : "owner pid " + o.owner_pid + " (" + o.owner_kind + ") on node " + short(o.node_id);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(o);
  }
  const rows = [];
  let total = 0;
  for (const key of Array.from(groups.keys()).sort()) {
    const list = groups.get(key);
    list.sort((a, b) => sortBy === "age" ? b.age_ms - a.age_ms : (b.size ?? -1) - (a.size ?? -1));
    const sum = list.reduce((n, o) => n + (o.size || 0), 0);
    total += sum;
    rows.push({ group: key + ": " + list.length + " object" + (list.length === 1 ? "" : "s") + ", " + bytes(sum) });
    for (const o of list)
      rows.push([{ text: o.object_id, cls: "mono" }, o.size == null ? "pending" : bytes(o.size), o.owner_pid,
        { text: short(o.node_id), cls: "mono" }, age(o.age_ms), o.refs || "-", o.call_site || "?"]);
  }
  summary.textContent = m.objects.length + " objects, " + bytes(total) + " owned by " + m.processes +
    " processes" + (m.unanswered ? " (" + m.unanswered + " did not answer)" : "");
  fill("memory-table", rows);
}

// The node select: the head's session (read by the head) and every live node's logs
// (read by that node's node manager, wherever it runs).
async function logNodes() {
  const sel = document.getElementById("log-node");
  const nodes = (await api("/api/nodes")).filter((n) => n.state === "ALIVE");
  const opts = [["", "head (its session)"]].concat(nodes.map((n) => [n.node_id,
    short(n.node_id) + " " + n.address + (n.is_head ? " (head)" : "")]));
  if (opts.map((o) => o[0]).join() !== Array.from(sel.options).map((o) => o.value).join()) {
    const keep = sel.value;
    sel.replaceChildren(...opts.map(([v, t]) => { const o = document.createElement("option");
      o.value = v; o.textContent = t; return o; }));
    if (opts.some((o) => o[0] === keep)) sel.value = keep;
  }
  return sel.value;
}

async function logs() {
  const sel = document.getElementById("log-file");
  const node = await logNodes();
  const nodeArg = node ? "node=" + node : "";
  let files = await api("/api/logs" + (node ? "?" + nodeArg : ""));
  if (files.pending) { document.getElementById("log-text").textContent = "asking the node…"; return; }
  if (node) files = files.files;
  const names = files.map((f) => f.name);
  if (names.join() !== Array.from(sel.options).map((o) => o.value).join()) {
    const keep = sel.value;
    sel.replaceChildren(...files.map((f) => { const o = document.createElement("option");
      o.value = f.name; o.textContent = f.name + " (" + bytes(f.size) + ")"; return o; }));
    if (names.includes(keep)) sel.value = keep;
  }
  if (!sel.value) return;
  const search = document.getElementById("log-search").value;
  const lines = parseInt(document.getElementById("log-lines").value, 10) || 200;
  const r = await api("/api/logs/" + encodeURIComponent(sel.value) + "?lines=" + lines +
    (search ? "&search=" + encodeURIComponent(search) : "") + (node ? "&" + nodeArg : ""));
  if (r.pending) return;
  document.getElementById("log-text").textContent = r.lines.join("\n");
}

// ---- timeline ----

// Each worker a row, each run a bar placed by its start and end in the window shown.
let headTimeUs = 0; // the head's clock at its last answer
async function timeline() {
  const win = parseInt(document.getElementById("tl-window").value, 10);
  // Only the runs of the window (by the head's clock) travel, at most 5,000.
  const since = win && headTimeUs ? "&since_us=" + Math.floor(headTimeUs - (win + 5) * 1e6) : "";
  const r = await api("/api/timeline?limit=5000" + since);
  headTimeUs = r.time_us;
  const link = document.getElementById("tl-download");
  link.href = "/api/timeline/trace.json" + (token ? "?token=" + encodeURIComponent(token) : "");
  let events = r.events;
  let t1 = events.reduce((m, e) => Math.max(m, e.end_us), 0);
  if (win) { t1 = Math.max(t1, r.time_us); events = events.filter((e) => e.end_us >= t1 - win * 1e6); }
  let t0 = win ? t1 - win * 1e6 : events.reduce((m, e) => Math.min(m, e.start_us), t1);
  if (t1 - t0 < 1000) t0 = t1 - 1000;
  const rows = new Map();
  for (const e of events) {
    const key = "node " + short(e.node_id) + " pid " + e.pid;
    if (!rows.has(key)) rows.set(key, []);
    rows.get(key).push(e);
  }
  document.getElementById("tl-summary").textContent = events.length + " runs on " + rows.size + " workers (" +
    r.kept + " kept" + (r.evicted ? ", " + r.evicted + " older forgotten" : "") + ")";
  const out = document.createDocumentFragment();
  for (const key of Array.from(rows.keys()).sort()) {
    const row = document.createElement("div");
    row.className = "tl-row";
    const label = document.createElement("div");
    label.className = "tl-label";
    label.textContent = key;
    const lane = document.createElement("div");
    lane.className = "tl-lane";
    for (const e of rows.get(key)) {
      const bar = document.createElement("div");
      bar.className = "tl-span" + (e.kind !== "task" ? " actor" : "") + (e.failed ? " failed" : "");
      const left = Math.max(0, (e.start_us - t0) / (t1 - t0));
      bar.style.left = (left * 100).toFixed(3) + "%";
      bar.style.width = (Math.max(0, Math.min(1 - left, (e.end_us - Math.max(e.start_us, t0)) / (t1 - t0))) * 100)
        .toFixed(3) + "%";
      bar.textContent = e.name;
      bar.dataset.name = e.name;
      bar.title = e.name + " (" + e.type + ") " + age((e.end_us - e.start_us) / 1000) + (e.failed ? ", failed" : "");
      lane.appendChild(bar);
    }
    row.append(label, lane);
    out.appendChild(row);
  }
  document.getElementById("timeline").replaceChildren(out);
}

// ---- the loop ----

const views = { overview, jobs, actors, tasks, objects, timeline, logs };
function current() { const v = location.hash.slice(1); return views[v] ? v : "overview"; }

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  const v = current();
  try {
    await overviewOrView(v);
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (e) {
    setStatus("error: " + e.message, true);
  } finally {
    busy = false;
  }
}
// The overview's charts keep their history while another view is shown.
async function overviewOrView(v) {
  if (v === "overview") return overview();
  await views[v]();
}

function show() {
  const v = current();
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== "view-" + v;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === v);
  refresh();
}

window.addEventListener("hashchange", show);
document.getElementById("task-prev").onclick = () => { taskOffset = Math.max(0, taskOffset - TASK_PAGE); refresh(); };
document.getElementById("task-next").onclick = () => { taskOffset += TASK_PAGE; refresh(); };
for (const id of ["task-state", "task-name", "actor-state", "log-node", "log-file", "log-search", "log-lines",
  "mem-group", "mem-sort", "tl-window"])
  document.getElementById(id).addEventListener("change", () => { taskOffset = 0; refresh(); });
makeCharts();
show();
setInterval(refresh, POLL_MS);
