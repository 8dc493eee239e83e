// The dashboard's page: renders each snapshot the replica streams over server-sent events (/dashboard/events); the
// browser's EventSource reconnects by itself. Text goes in through textContent only, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);
const seenHistory = new Set();
let firstRender = true;

// What the page has received, for whoever looks at it from outside (the browser test, a curious operator's console).
window.pipelineDashboard = { snapshots: 0, last: null };

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells, className) {
  const tr = el("tr", null, className);
  for (const cell of cells) {
    if (cell instanceof Node) { const td = el("td"); td.appendChild(cell); tr.appendChild(td); }
    else if (cell && typeof cell === "object") { tr.appendChild(el("td", cell.text, cell.className)); }
    else tr.appendChild(el("td", cell));
  }
  return tr;
}

function fill(tbody, rows) { tbody.replaceChildren(...rows); }

function time(iso) { return iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : ""; }

function ago(iso, now) {
  if (!iso) return "";
  const s = Math.max(0, (now - new Date(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

function badge(text, kind) { return el("span", text, `badge ${kind ?? text}`.replace(/\s+off$/, "-off")); }

function number(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }

function render(s) {
  const now = new Date(s.generatedAt);
  window.pipelineDashboard.snapshots++;
  window.pipelineDashboard.last = s;

  // Header: this replica.
  $("replica-node").textContent = s.replica.nodeId;
  const role = $("replica-role");
  role.textContent = s.replica.isLeader ? "leader" : s.replica.state.toLowerCase();
  role.className = `badge ${s.replica.isLeader ? "leader" : ""}`;
  const ready = $("replica-ready");
  ready.textContent = s.replica.ready === null ? "" : s.replica.ready ? "ready" : "not ready";
  ready.className = `badge ${s.replica.ready ? "ready" : "unready"}`;
  $("updated-at").textContent = `updated ${time(s.generatedAt)}`;

  // Leader.
  const leader = s.leader;
  $("leader-node").textContent = leader ? leader.nodeId ?? "(unnamed node)" : "no leader";
  $("card-leader").classList.toggle("alert", !leader);
  $("leader-token").textContent = leader ? leader.token ?? `seq ${leader.sequence}` : "–";
  $("leader-since").textContent = leader && leader.since ? `since ${time(leader.since)} (${ago(leader.since, now)})` : "";
  $("leader-cause").textContent = leader && leader.cause
    ? `${leader.cause}${leader.previous ? ` after ${leader.previous}` : ""}` : "";

  // Cards.
  $("commit-rate").textContent = s.commits.current === null ? "–" : number(Math.round(s.commits.current));
  const undecided = s.undecided;
  $("undecided-count").textContent = undecided ? number(undecided.count) : "–";
  $("undecided-age").textContent = undecided && undecided.oldestAgeSeconds !== null
    ? `oldest ${Math.round(undecided.oldestAgeSeconds)} s (re-drive after ${Math.round(undecided.redriveAgeSeconds)} s)` : "none waiting";
  $("card-undecided").classList.toggle("warn", !!undecided && undecided.oldestAgeSeconds !== null && undecided.oldestAgeSeconds > undecided.redriveAgeSeconds);
  $("fence-rejections").textContent = number(s.fence.rejections);
  $("fence-state").textContent = s.fence.blocked ? `BLOCKED: ${s.fence.reason}` : "fence open";
  $("card-fence").classList.toggle("alert", s.fence.blocked);
  $("card-fence").classList.toggle("warn", !s.fence.blocked && s.fence.rejections > 0);

  renderRate(s.commits.perSecond);

  // Candidates, leader first.
  fill($("candidates").tBodies[0], s.candidates.map((c) => row([
    c.position, c.nodeId ?? "?", badge(c.role), c.sequence, `${c.host ?? "?"} · ${c.pid ?? "?"}`, c.session,
  ], c.isThisReplica ? "this" : "")));
  if (s.candidates.length === 0) fill($("candidates").tBodies[0], [row(["", "no candidates", "", "", "", ""])]);
  $("crash-signal").textContent = s.replica.crashSignal ? `crash signal: ${s.replica.crashSignal}` : "";

  // Queues.
  const deepest = Math.max(1, ...s.queues.queues.map((q) => q.messages));
  fill($("queues").tBodies[0], s.queues.queues.map((q) => {
    const bar = el("span", null, "bar");
    bar.style.width = `${Math.round(120 * q.messages / deepest)}px`;
    bar.hidden = !q.exists || q.messages === 0;
    return row([q.name, { text: q.exists ? number(q.messages) : "absent", className: "num" }, { text: q.exists ? q.consumers : "", className: "num" }, bar],
      `${q.isErrorQueue ? "error-queue" : ""} ${q.messages > 0 ? "nonempty" : ""}`);
  }));
  $("queues-state").textContent = s.queues.error ? `stale: ${s.queues.error}` : s.queues.at ? `read ${ago(s.queues.at, now)}` : "";

  // Election history: every replica's successions and the fence's refusals, from the database.
  const items = s.history.map((h) => {
    const key = `${h.at}|${h.kind}|${h.nodeId}|${h.token}`;
    const li = el("li", null, !firstRender && !seenHistory.has(key) ? "new" : "");
    seenHistory.add(key);
    li.dataset.kind = h.kind;
    li.dataset.node = h.nodeId;
    li.dataset.token = h.token;
    li.dataset.cause = h.cause;
    li.appendChild(el("span", time(h.at), "muted"));
    li.appendChild(badge(h.cause, h.cause.replace(" ", "-")));
    const what = h.kind === "led"
      ? `${h.nodeId} led with ${h.token}${h.previous ? ` after ${h.previous}` : ""}`
      : `${h.nodeId}'s commit with ${h.token} refused (fence at ${h.previous})`;
    li.appendChild(el("span", what, "what"));
    return li;
  });
  $("history").replaceChildren(...(items.length ? items : [el("li", "no leadership recorded yet", "muted")]));
  firstRender = false;

  // Last decisions.
  fill($("decisions").tBodies[0], s.decisions.map((d) => row([
    time(d.at), d.orderId, badge(d.outcome.toLowerCase() === "confirmed" ? "confirmed" : `${d.outcome.toLowerCase()}${d.reason ? `: ${d.reason}` : ""}`,
      d.outcome.toLowerCase() === "confirmed" ? "confirmed" : "rejected"), d.token,
  ])));

  // This replica in detail.
  const detail = [
    ["state", s.replica.state], ["token", s.replica.token ?? "–"],
    ["decided here", `${number(s.commits.confirmedHere)} confirmed, ${number(s.commits.rejectedHere)} rejected`],
    ["last commit here", s.commits.lastCommitHere ? ago(s.commits.lastCommitHere, now) : "–"],
  ];
  if (s.replica.failure) detail.push(["failure", s.replica.failure]);
  if (s.replica.error) detail.push(["error", s.replica.error]);
  if (s.databaseError) detail.push(["database", s.databaseError]);
  $("replica-detail").replaceChildren(...detail.map(([k, v]) => { const d = el("div"); d.appendChild(el("span", k)); d.appendChild(el("strong", v)); return d; }));
  fill($("checks").tBodies[0], s.replica.checks.map((c) => row([c.name, badge(c.status.toLowerCase(), c.status === "Healthy" ? "ready" : "unready"), c.description ?? ""])));
}

function renderRate(points) {
  const svg = $("rate-chart");
  const ns = "http://www.w3.org/2000/svg";
  const w = 900, h = 160;
  const children = [];
  for (const y of [0.25, 0.5, 0.75]) {
    const line = document.createElementNS(ns, "line");
    line.setAttribute("x1", 0); line.setAttribute("x2", w); line.setAttribute("y1", h * y); line.setAttribute("y2", h * y);
    line.setAttribute("class", "grid");
    children.push(line);
  }
  const max = Math.max(1, ...points.map((p) => p.perSecond));
  if (points.length > 1) {
    const t0 = new Date(points[0].at).getTime(), t1 = new Date(points[points.length - 1].at).getTime();
    const span = Math.max(1, t1 - t0);
    const xy = points.map((p) => [((new Date(p.at).getTime() - t0) / span) * w, h - (p.perSecond / max) * (h - 8)]);
    const path = xy.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
    const area = document.createElementNS(ns, "path");
    area.setAttribute("d", `${path} L${w},${h} L0,${h} Z`);
    area.setAttribute("class", "area");
    const line = document.createElementNS(ns, "path");
    line.setAttribute("d", path);
    line.setAttribute("class", "line");
    children.push(area, line);
    $("rate-from").textContent = time(points[0].at);
  }
  $("rate-max").textContent = `peak ${number(Math.round(max))}/s`;
  svg.replaceChildren(...children);
}

function connect() {
  const status = $("connection"), text = $("connection-text");
  const events = new EventSource("/dashboard/events");
  events.addEventListener("open", () => { status.className = "dot live"; text.textContent = "live"; });
  events.addEventListener("snapshot", (e) => {
    status.className = "dot live"; text.textContent = "live";
    render(JSON.parse(e.data));
  });
  events.addEventListener("error", () => { status.className = "dot lost"; text.textContent = "reconnecting…"; });
}

// The first snapshot at once (the stream's first event follows it within a second), then live.
fetch("/dashboard/state").then((r) => (r.ok ? r.json() : null)).then((s) => { if (s && window.pipelineDashboard.snapshots === 0) render(s); }).catch(() => {});
connect();
