// mdi status page: polls /status.json once a second and redraws. Plain JS, no library, no build.
"use strict";

const POLL_MS = 1000;
const COLORS = ["#1f6fd1", "#d1571f", "#2b9a3e", "#8d3fc4", "#c41f6a", "#6b7a1f", "#1fa3a3"];
const QUALITY_COLOR = { Ok: "#2b9a3e", Degraded: "#e09a1a", Suspect: "#c42b2b" };
const SVG_NS = "http://www.w3.org/2000/svg";
const VENUE_KNOWN = new Set(["state", "component_state", "last_data_age_s", "reconnects", "restarts",
  "last_error", "rejected", "frames", "events", "parse_errors", "gaps", "events_per_s", "page_state", "stale_after_s"]);
const SINK_KNOWN = new Set(["state", "delivery", "queue_depth", "drops", "detail", "counters", "gauges"]);

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function stateCell(state) {
  const td = el("td", { class: "state-cell" });
  td.appendChild(el("span", { class: "state state-" + state }, state));
  return td;
}

function num(value, digits) {
  if (value === null || value === undefined) return "–";
  return typeof value === "number" && digits !== undefined ? value.toFixed(digits) : String(value);
}

// Whatever fields a newer mdi (or a sink plugin) adds are shown by name, not dropped.
function extras(obj, known) {
  const parts = [];
  for (const [k, v] of Object.entries(obj)) {
    if (known.has(k) || v === null || typeof v === "object") continue;
    parts.push(k + "=" + v);
  }
  return parts;
}

function keyed(map) {
  return Object.entries(map || {}).map(([k, v]) => k + "=" + (typeof v === "number" ? +v.toFixed(3) : v));
}

function renderVenues(venues) {
  const body = document.querySelector("#venues tbody");
  body.replaceChildren();
  for (const [name, v] of Object.entries(venues).sort()) {
    const state = v.page_state || v.state;  // "stale" too while a re-subscribed venue sends nothing
    const tr = el("tr", { "data-venue": name, "data-state": state });
    tr.appendChild(el("td", {}, name));
    tr.appendChild(stateCell(state));
    tr.appendChild(el("td", { class: "num age" }, v.last_data_age_s === null ? "never" : num(v.last_data_age_s, 1) + " s"));
    tr.appendChild(el("td", { class: "num rate" }, num(v.events_per_s, 1)));
    tr.appendChild(el("td", { class: "num" }, num(v.reconnects)));
    tr.appendChild(el("td", { class: "num" }, num(v.gaps)));
    const rejected = (v.parse_errors || 0) + (Array.isArray(v.rejected) ? v.rejected.length : 0);
    tr.appendChild(el("td", { class: "num", title: "parse errors + rejected subscriptions" }, rejected));
    tr.appendChild(el("td", { class: "num" }, num(v.restarts)));
    tr.appendChild(el("td", { class: "wrap" }, extras(v, VENUE_KNOWN).join(" ")));
    tr.appendChild(el("td", { class: "wrap" }, v.last_error || ""));
    body.appendChild(tr);
  }
}

function renderSinks(sinks) {
  const body = document.querySelector("#sinks tbody");
  body.replaceChildren();
  for (const [name, s] of Object.entries(sinks).sort()) {
    const tr = el("tr", { "data-sink": name, "data-state": s.state });
    tr.appendChild(el("td", {}, name));
    tr.appendChild(el("td", {}, s.delivery));
    tr.appendChild(stateCell(s.state));
    tr.appendChild(el("td", { class: "num" }, num(s.queue_depth)));
    tr.appendChild(el("td", { class: "num" }, num(s.drops)));
    const info = [...extras(s, SINK_KNOWN), ...keyed(s.gauges), ...keyed(s.counters)];
    tr.appendChild(el("td", { class: "wrap" }, info.join(" ")));
    tr.appendChild(el("td", { class: "wrap" }, s.detail || ""));
    body.appendChild(tr);
  }
}

function renderPipelines(pipelines) {
  const body = document.querySelector("#pipelines tbody");
  body.replaceChildren();
  for (const [name, p] of Object.entries(pipelines || {}).sort()) {
    const tr = el("tr", { "data-pipeline": name, "data-state": p.state });
    tr.appendChild(el("td", {}, name));
    tr.appendChild(stateCell(p.state));
    tr.appendChild(el("td", { class: "num" }, num(p.restarts)));
    tr.appendChild(el("td", { class: "wrap" }, p.last_error || ""));
    body.appendChild(tr);
  }
}

// Sections a newer /health adds (a journal, an instance id, ...) are listed as key = value,
// flattened, so the page never hides what the service reports.
const HEALTH_KNOWN = new Set(["status", "reasons", "service_state", "uptime_s", "venues", "sinks", "pipelines"]);

function flatten(prefix, value, out) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? prefix + "." + k : k, v, out);
  } else {
    out.push([prefix, Array.isArray(value) ? value.join(", ") : value]);
  }
}

function renderMore(health) {
  const rows = [];
  for (const [k, v] of Object.entries(health)) if (!HEALTH_KNOWN.has(k)) flatten(k, v, rows);
  const body = document.querySelector("#more-fields tbody");
  body.replaceChildren();
  for (const [k, v] of rows) {
    const tr = el("tr", { "data-key": k });
    tr.appendChild(el("td", {}, k));
    tr.appendChild(el("td", { class: "wrap" }, v === null ? "–" : v));
    body.appendChild(tr);
  }
  document.getElementById("more").hidden = rows.length === 0;
}

// ----- charts: hand-written SVG ------------------------------------------------------------
const W = 640, H = 260, PAD = { l: 64, r: 8, t: 8, b: 28 };

function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!isFinite(lo)) return null;
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

function scale(domain, range) {
  const [d0, d1] = domain, [r0, r1] = range;
  return (v) => r0 + (v - d0) * (r1 - r0) / (d1 - d0);
}

function pathOf(points, sx, sy) {
  let d = "", pen = false;
  for (const [x, y] of points) {
    if (y === null || !isFinite(y)) { pen = false; continue; }
    d += (pen ? "L" : "M") + sx(x).toFixed(1) + "," + sy(y).toFixed(1);
    pen = true;
  }
  return d;
}

function axes(svg, xd, yd, xfmt, yfmt) {
  svg.appendChild(svgEl("line", { class: "axis", x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b }));
  svg.appendChild(svgEl("line", { class: "axis", x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b }));
  for (let i = 0; i <= 4; i++) {
    const y = PAD.t + (H - PAD.t - PAD.b) * i / 4;
    const v = yd[1] - (yd[1] - yd[0]) * i / 4;
    svg.appendChild(svgEl("text", { x: PAD.l - 4, y: y + 4, "text-anchor": "end" }, yfmt(v)));
    const x = PAD.l + (W - PAD.l - PAD.r) * i / 4;
    const u = xd[0] + (xd[1] - xd[0]) * i / 4;
    svg.appendChild(svgEl("text", { x: x, y: H - 8, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" }, xfmt(u)));
  }
}

function drawLines(svg, legend, series, xfmt, yfmt) {
  svg.replaceChildren();
  legend.replaceChildren();
  const xs = [], ys = [];
  for (const s of series) for (const [x, y] of s.points) { xs.push(x); if (y !== null && isFinite(y)) ys.push(y); }
  const xd = extent(xs), yd = extent(ys);
  if (!xd || !yd) {
    svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "waiting for data"));
    return 0;
  }
  const sx = scale(xd, [PAD.l, W - PAD.r]), sy = scale(yd, [H - PAD.b, PAD.t]);
  axes(svg, xd, yd, xfmt, yfmt);
  let drawn = 0;
  for (const s of series) {
    const d = pathOf(s.points, sx, sy);
    if (!d) continue;
    svg.appendChild(svgEl("path", { class: "series" + (s.main ? " main" : ""), "data-series": s.name, d: d, stroke: s.color }));
    drawn++;
    const item = el("span", {});
    const swatch = el("i", {});
    swatch.style.background = s.color;
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(s.label));
    legend.appendChild(item);
  }
  if (series.marks) series.marks(svg, sx, sy, yd);
  return drawn;
}

const clock = (t) => new Date(t * 1000).toISOString().slice(11, 19);

function drawSpot(spot) {
  const symbols = Object.keys(spot).sort();
  const svg = document.getElementById("spot-chart");
  const symbol = symbols[0];
  const points = symbol ? spot[symbol] : [];
  document.getElementById("spot-symbol").textContent = symbol || "";
  const last = points.length ? points[points.length - 1] : null;
  document.getElementById("spot-last").textContent = last ? (last.mid || "no mid") + " · " + last.quality : "";
  const venues = [...new Set(points.flatMap((p) => Object.keys(p.venues)))].sort();
  const series = [{ name: "mid", label: "consolidated mid", main: true, color: "#1d2430",
    points: points.map((p) => [p.t, p.mid === null ? null : Number(p.mid)]) }];
  venues.forEach((v, i) => series.push({ name: "venue:" + v, label: v, color: COLORS[i % COLORS.length],
    // a venue's mid only while spot_mid counted it fresh: a stalled venue leaves a gap, not a flat line
    points: points.map((p) => [p.t, p.venues[v] && p.venues[v].fresh && p.venues[v].mid !== null ? Number(p.venues[v].mid) : null]) }));
  // The quality flag of each second, as a strip along the bottom of the plot.
  series.marks = (node, sx) => {
    for (const p of points) {
      node.appendChild(svgEl("rect", { class: "quality q-" + p.quality, x: sx(p.t) - 1, y: H - PAD.b - 5, width: 2.5, height: 5,
        fill: QUALITY_COLOR[p.quality] || "#999" }, undefined));
    }
  };
  svg.setAttribute("data-points", String(points.length));
  drawLines(svg, document.getElementById("spot-legend"), series, clock, (v) => v.toFixed(2));
}

function drawSmiles(surfaces) {
  const svg = document.getElementById("smile-chart");
  const series = surfaces.map((s, i) => {
    const calls = new Map();
    for (const q of s.smile) {  // one IV per strike: the mark IV, calls and puts averaged
      if (q.mark_iv === null) continue;
      const k = Number(q.strike);
      const prev = calls.get(k);
      calls.set(k, prev === undefined ? Number(q.mark_iv) : (prev + Number(q.mark_iv)) / 2);
    }
    const pts = [...calls.entries()].sort((a, b) => a[0] - b[0]);
    const label = new Date(s.expiry * 1000).toISOString().slice(0, 10) + (s.atm_iv ? " ATM " + Number(s.atm_iv).toFixed(1) : "") + " · " + s.quality;
    return { name: "expiry:" + s.expiry, label: label, color: COLORS[i % COLORS.length], points: pts };
  });
  svg.setAttribute("data-expiries", String(surfaces.length));
  drawLines(svg, document.getElementById("smile-legend"), series, (v) => v.toFixed(0), (v) => v.toFixed(1));
}

// ----- plugin panels ---------------------------------------------------------------------
async function renderPanels(panels) {
  const root = document.getElementById("panels");
  const keep = new Set(panels.map((p) => p.path));
  for (const node of [...root.children]) if (!keep.has(node.dataset.path)) node.remove();
  for (const p of panels) {
    let node = root.querySelector(`[data-path="${CSS.escape(p.path)}"]`);
    if (!node) {
      node = el("div", { class: "panel", "data-path": p.path, "data-plugin": p.plugin });
      node.appendChild(el("h2", {}, p.title));
      node.appendChild(el("div", { class: "panel-body" }));
      root.appendChild(node);
    }
    try {
      const r = await fetch(p.path, { cache: "no-store" });
      node.querySelector(".panel-body").innerHTML = await r.text();  // trusted: an installed plugin's HTML
    } catch (e) {
      node.querySelector(".panel-body").textContent = "panel unavailable: " + e;
    }
  }
}

function render(doc) {
  const h = doc.health;
  const badge = document.getElementById("overall");
  badge.textContent = doc.status;
  badge.className = "badge state-" + doc.status;
  document.getElementById("reasons").textContent = doc.reasons.join("; ");
  document.getElementById("updated").textContent = "updated " + clock(doc.now) + " UTC · up " + Math.round(h.uptime_s) + " s";
  renderVenues(h.venues);
  renderSinks(h.sinks);
  renderPipelines(h.pipelines);
  renderMore(h);
  drawSpot(doc.spot);
  drawSmiles(doc.surfaces);
  return renderPanels(doc.panels);
}

async function poll() {
  const conn = document.getElementById("conn");
  try {
    const r = await fetch("/status.json", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    await render(await r.json());
    conn.textContent = "";
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (e) {
    conn.textContent = "cannot reach mdi: " + e.message;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
