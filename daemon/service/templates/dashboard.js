// The live dashboard. Every string that comes from the service (instrument ids, run ids, errors, abort
// reasons, prompts) goes into the page as text (textContent), never as markup: a reason typed by someone
// cannot become script here. Commands carry the session's CSRF token.
"use strict";
const latest = {}, history = {}, documents = {};
let run = null, selected = null;
const $ = (id) => document.getElementById(id);
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const fmt = (v) => (typeof v === "number" ? (Math.abs(v) >= 1000 ? v.toFixed(2) : v.toPrecision(7)) : "—");

// An element with text and attributes, children appended: the only way anything is added to the page.
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function renderInstruments() {
  const rows = [];
  for (const id of Object.keys(latest).sort()) {
    const r = latest[id];
    let badge = null;
    if (r.error) badge = el("span", {class: "badge error", text: "error"});
    else if (r.held_by && typeof r.value !== "number") badge = el("span", {class: "badge settling", text: "in use"});
    else if (r.stable === true) badge = el("span", {class: "badge stable", text: "stable"});
    else if (r.stable === false) badge = el("span", {class: "badge settling", text: "settling"});
    const value = r.error ? String(r.error) : (r.held_by && typeof r.value !== "number") ? `by run ${r.held_by}`
      : `${fmt(r.value)} ${r.unit || ""}`;
    const row = el("div", {class: "inst" + (id === selected ? " sel" : "")},
                   el("span", {}, id, badge), el("span", {class: "value", "data-instrument": id, text: value}));
    row.dataset.id = id;
    row.onclick = () => { selected = id; renderInstruments(); drawChart(); };
    rows.push(row);
  }
  $("instruments").replaceChildren(...rows);
}

function renderRun() {
  const box = $("run"), form = $("prompt"), controls = $("controls");
  if (!run) {
    box.replaceChildren(el("span", {class: "muted", text: "no procedure running"}));
    form.hidden = true; controls.hidden = true; return;
  }
  const p = run.progress || {};
  const progress = el("progress", {id: "progress", max: String(p.of || 1), value: String(p.done || 0)});
  box.replaceChildren(
    el("div", {}, el("strong", {text: run.procedure}), ` · ${run.run_id}`),
    el("div", {}, "state: ", el("span", {id: "runstate", text: run.state}), ` · operator ${run.operator}`),
    progress,
    el("div", {class: "muted", text: p.label || ""}),
    run.error ? el("div", {class: "err", id: "runerror", text: run.error}) : null,
    el("div", {class: "docs"}, ...(documents[run.run_id] || []).map(
      (d) => el("a", {class: "doc", href: `/documents/${encodeURIComponent(d)}`, text: d}))));
  const active = ["running", "paused", "waiting", "queued"].includes(run.state);
  controls.hidden = !active;
  if (run.prompt) {
    form.hidden = false; form.dataset.key = run.prompt.key; form.dataset.run = run.run_id;
    $("question").textContent = run.prompt.question + (run.prompt.unit ? ` [${run.prompt.unit}]` : "");
  } else { form.hidden = true; }
}

// The lab's benches (their services' retained status and run states): read only; each bench is driven at its own.
let fleet = [];
function renderFleet() {
  const rows = fleet.map((s) => el("div", {class: "station", "data-station": s.station},
    el("strong", {text: s.station}), " ",
    el("span", {class: "badge " + (s.status.state === "online" ? "stable" : "error"), text: s.status.state}),
    el("span", {class: "muted", text: ` ${(s.status.instruments || []).length} instruments`}),
    ...s.runs.map((r) => el("div", {class: "fleetrun", "data-run": r.run_id},
      `${r.procedure || "?"} · `, el("span", {text: r.run_id}), ` · ${r.state} · ${r.operator || ""}`))));
  $("fleet").replaceChildren(...(rows.length ? rows : [el("span", {class: "muted", text: "no other bench seen"})]));
}

function drawChart() {
  const c = $("chart"), g = c.getContext("2d"), pts = history[selected] || [];
  $("chartname").textContent = selected || "";
  g.clearRect(0, 0, c.width, c.height);
  if (pts.length < 2) return;
  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (x) => 40 + (c.width - 50) * (x - x0) / ((x1 - x0) || 1);
  const sy = (y) => c.height - 20 - (c.height - 30) * (y - y0) / ((y1 - y0) || 1);
  g.strokeStyle = "#999"; g.fillStyle = "#666"; g.font = "11px sans-serif";
  g.fillText(fmt(y1), 0, 14); g.fillText(fmt(y0), 0, c.height - 22);
  g.strokeStyle = "#1f4e79"; g.lineWidth = 1.5; g.beginPath();
  pts.forEach((p, i) => (i ? g.lineTo(sx(p[0]), sy(p[1])) : g.moveTo(sx(p[0]), sy(p[1]))));
  g.stroke();
}

function onReading(r) {
  latest[r.instrument] = r;
  if (typeof r.value === "number") {
    const h = (history[r.instrument] = history[r.instrument] || []);
    h.push([r.time, r.value]); if (h.length > 300) h.shift();
  }
  if (!selected) selected = r.instrument;
}

let pending = false;
function refresh() { if (pending) return; pending = true; requestAnimationFrame(() => { pending = false; renderInstruments(); renderRun(); drawChart(); }); }

async function command(body) {
  const resp = await fetch("/api/command", {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(body)});
  if (resp.status === 401) { window.location = "/login"; return {ok: false, error: "logged out"}; }
  const reply = await resp.json();
  $("message").textContent = reply.ok ? "" : reply.error;
  return reply;
}

const events = new EventSource("/events");
events.onopen = () => { $("conn").textContent = "live"; };
events.onerror = () => { $("conn").textContent = "reconnecting…"; };
events.addEventListener("snapshot", (e) => {
  const s = JSON.parse(e.data); $("station").textContent = s.status.station;
  for (const [id, r] of Object.entries(s.latest)) onReading({instrument: id, ...r});
  run = s.run; fleet = s.fleet || []; renderFleet(); refresh();
});
events.addEventListener("fleet", (e) => { fleet = JSON.parse(e.data); renderFleet(); });
events.addEventListener("reading", (e) => { onReading(JSON.parse(e.data)); refresh(); });
events.addEventListener("run", (e) => { run = JSON.parse(e.data); refresh(); });
events.addEventListener("result", (e) => { const r = JSON.parse(e.data); documents[r.run_id] = r.documents; refresh(); });

$("prompt").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = $("prompt");
  const reply = await command({action: "answer", run_id: form.dataset.run, prompt: form.dataset.key,
                               value: $("answer").value});
  if (reply.ok) $("answer").value = "";
});
for (const action of ["pause", "resume", "abort"]) {
  $(action).addEventListener("click", async () => {
    if (!run) return;
    const body = {action, run_id: run.run_id};
    if (action === "abort") {
      const reason = window.prompt("Why abort this run?");
      if (reason === null) return;
      body.reason = reason;
    }
    await command(body);
  });
}

// Documents of completed runs, and signing them (checked, then authorised): the password is typed each time,
// sent once with the command and never kept by the page.
async function loadDocuments() {
  const resp = await fetch("/api/documents", {credentials: "same-origin"});
  if (!resp.ok) return;
  const runs = (await resp.json()).runs;
  const box = $("documents"), select = $("sign-run");
  if (!runs.length) return;
  box.replaceChildren(...runs.map((r) => el("div", {class: "docrow", "data-run": r.run_id},
    el("strong", {text: r.run_id}), ` ${r.procedure} · ${r.operator} · `,
    el("span", {class: "docstate", text: r.certificate ? `${r.state} ${r.certificate}` : r.state}),
    el("div", {class: "docs"}, ...r.documents.map(
      (d) => el("a", {class: "doc", href: `/documents/${encodeURIComponent(d)}`, text: d}))))));
  select.replaceChildren(...runs.filter((r) => r.state !== "issued").map(
    (r) => el("option", {value: r.run_id, text: `${r.run_id} (${r.state})`})));
  $("sign").hidden = select.options.length === 0;
}

$("sign").addEventListener("submit", async (e) => {
  e.preventDefault();
  const password = $("sign-password");
  const reply = await command({action: "sign", run_id: $("sign-run").value, meaning: $("sign-meaning").value,
                               password: password.value});
  password.value = "";
  $("sign-message").textContent = reply.ok
    ? (reply.certificate ? `issued as ${reply.certificate}` : `signed: ${reply.meaning}`) : reply.error;
  loadDocuments();
});
events.addEventListener("result", () => loadDocuments());
loadDocuments();
