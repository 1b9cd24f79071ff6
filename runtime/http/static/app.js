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

// Replaces tbody's rows: each row a list of cells, a cell a string or {text, cls} or a Node.
function fill(tableId, rows) {
  const tbody = document.querySelector("#" + tableId + " tbody");
  const out = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement("tr");
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
    api("/api/tasks?limit=20")]);
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
  const r = await api(q);
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
}

async function logs() {
  const sel = document.getElementById("log-file");
  const files = await api("/api/logs");
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
    (search ? "&search=" + encodeURIComponent(search) : ""));
  document.getElementById("log-text").textContent = r.lines.join("\n");
}

// ---- the loop ----

const views = { overview, jobs, actors, tasks, objects, logs };
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
for (const id of ["task-state", "task-name", "actor-state", "log-file", "log-search", "log-lines"])
  document.getElementById(id).addEventListener("change", () => { taskOffset = 0; refresh(); });
makeCharts();
show();
setInterval(refresh, POLL_MS);
