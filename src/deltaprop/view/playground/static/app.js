// deltaprop playground: the page draws; every number comes from the engine on the server.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const DIGITS = 4; // significant digits shown for every number on the drawing

function fmt(v) {
  if (typeof v === "string") return v; // "NaN", "Inf", "-Inf" from the server
  if (v === null || v === undefined) return "—"; // σ′ of a coupled (softmax) layer: no element-wise derivative
  if (Array.isArray(v)) return fmt(v[0]);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(DIGITS - 1);
  return v.toPrecision(DIGITS);
}
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function el(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}
function status(msg, isError) {
  const s = $("status");
  s.textContent = msg || "";
  s.style.color = isError ? "#ffb3b3" : "#ffd27f";
}
function tex(s, display) {
  try { return katex.renderToString(s, { displayMode: display, throwOnError: false }); }
  catch (e) { return esc(s); }
}

// ---- a small Markdown reader for the derive --format markdown text: headings, tables, bold, italics, $…$, $$…$$
function inline(text) {
  let out = "", last = 0;
  const re = /\$\$([\s\S]+?)\$\$|\$([^$]+?)\$/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    out += plain(text.slice(last, m.index));
    out += m[1] !== undefined ? tex(m[1].trim(), true) : tex(m[2].trim(), false);
    last = re.lastIndex;
  }
  return out + plain(text.slice(last));
}
function plain(s) {
  return esc(s).replace(/\*\*(.+?)\*\*/g, "<b>$1</b>").replace(/\*(.+?)\*/g, "<i>$1</i>").replace(/`(.+?)`/g, "<code>$1</code>");
}
function markdown(md) {
  const lines = md.split("\n");
  let html = "", i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.startsWith("### ")) { html += `<h3>${inline(line.slice(4))}</h3>`; i++; continue; }
    if (line.startsWith("|")) {
      const rows = [];
      while (i < lines.length && lines[i].startsWith("|")) rows.push(lines[i++]);
      const cells = (r) => r.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
      html += "<table><tr>" + cells(rows[0]).map((c) => `<th>${inline(c)}</th>`).join("") + "</tr>";
      for (const r of rows.slice(2)) html += "<tr>" + cells(r).map((c) => `<td>${inline(c)}</td>`).join("") + "</tr>";
      html += "</table>";
      continue;
    }
    if (line.trim() === "") { i++; continue; }
    const para = [];
    while (i < lines.length && lines[i].trim() !== "" && !lines[i].startsWith("|") && !lines[i].startsWith("### ")) para.push(lines[i++]);
    html += `<p>${inline(para.join(" "))}</p>`;
  }
  return html;
}

async function api(path, body) {
  const opts = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, opts);
  const data = await r.json();
  if (!r.ok || data.error !== undefined) throw new Error(data.error || `HTTP ${r.status}`);
  return data;
}

// ================================================================ inspect mode
const I = { view: null, selected: null, backstep: null, showGrads: false };

function neuronLabel(id) { return id; }

function layout(view) {
  const byLevel = {};
  for (const id of view.ids) (byLevel[view.neurons[id].level] ||= []).push(id);
  const levels = Object.keys(byLevel).map(Number).sort((a, b) => a - b);
  const W = 176, H = 92, gapX = 130, top = 30;
  const maxN = Math.max(...levels.map((l) => byLevel[l].length));
  const height = Math.max(480, maxN * (H + 40) + 2 * top);
  const pos = {};
  levels.forEach((l, c) => {
    const ids = byLevel[l];
    const step = height / ids.length;
    ids.forEach((id, k) => { pos[id] = { x: 30 + c * (W + gapX), y: step * (k + 0.5) - H / 2, w: W, h: H }; });
  });
  return { pos, width: 30 + levels.length * (W + gapX) - gapX + 30, height, W, H, gapX };
}

function edgeColor(v) { return (typeof v === "number" && v < 0) ? "var(--neg)" : "var(--pos)"; }

function drawNet() {
  const v = I.view, r = v.report, svg = $("net");
  svg.innerHTML = "";
  const L = layout(v);
  svg.setAttribute("viewBox", `0 0 ${L.width} ${L.height}`);
  svg.style.height = Math.min(760, Math.max(480, L.height * 0.9)) + "px";
  const wkey = (i, j) => `${i}->${j}`;
  const vals = v.edges.map(([i, j]) => { const w = r.weights[wkey(i, j)]; return I.showGrads ? w.grad : w.value; });
  const maxAbs = Math.max(1e-12, ...vals.map((x) => (typeof x === "number" ? Math.abs(x) : 0)));
  const revealed = I.backstep ? new Set(I.backstep.order.slice(0, I.backstep.k)) : null;
  const current = I.backstep && I.backstep.k > 0 ? I.backstep.order[I.backstep.k - 1] : null;
  const edgesG = el("g", {}, svg), labelsG = el("g", {}, svg), nodesG = el("g", {}, svg);
  const labels = [];
  v.edges.forEach(([i, j], e) => {
    const a = L.pos[i], b = L.pos[j];
    const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
    const span = v.neurons[j].level - v.neurons[i].level;
    const bend = span > 1 ? -40 * (span - 1) : 0;
    const cx = (x1 + x2) / 2, cy = (y1 + y2) / 2 + bend;
    const d = `M${x1},${y1} Q${cx},${cy} ${x2},${y2}`;
    const val = vals[e];
    const width = 1 + 7 * (typeof val === "number" ? Math.abs(val) / maxAbs : 0);
    const cls = ["edge"];
    const sel = I.selected && I.selected.kind === "w" && I.selected.key[0] === i && I.selected.key[1] === j;
    if (sel) cls.push("selected");
    if (current && i === current) cls.push("term");
    el("path", { d, class: cls.join(" "), stroke: edgeColor(val), "stroke-width": width.toFixed(2), fill: "none", "stroke-opacity": 0.75 }, edgesG);
    const hit = el("path", { d, class: "edge-hit" }, edgesG);
    hit.addEventListener("click", () => select("w", [i, j]));
    // the label: in the middle of the gap before the target column, on the curve
    const gx = x2 - L.gapX / 2;
    let t = 0.5;
    for (let it = 0; it < 30; it++) { const x = (1 - t) * (1 - t) * x1 + 2 * (1 - t) * t * cx + t * t * x2; t += (gx - x) / Math.max(1, x2 - x1); t = Math.min(0.95, Math.max(0.05, t)); }
    const ly = (1 - t) * (1 - t) * y1 + 2 * (1 - t) * t * cy + t * t * y2;
    labels.push({ i, j, x: gx, y: ly, sel });
  });
  // labels in one gap that would overlap are pushed apart vertically (in order of height)
  const byGap = {};
  for (const lab of labels) (byGap[Math.round(lab.x)] ||= []).push(lab);
  for (const group of Object.values(byGap)) {
    group.sort((p, q) => p.y - q.y);
    for (let k = 1; k < group.length; k++) if (group[k].y - group[k - 1].y < 19) group[k].y = group[k - 1].y + 19;
  }
  for (const lab of labels) {
    const { i, j, x: lx, y: ly } = lab;
    const g = el("g", { class: "elabel" + (lab.sel ? " selected" : ""), "data-edge": wkey(i, j) }, labelsG);
    const w = r.weights[wkey(i, j)];
    const name = `w${i},${j}`;
    const short = i.length === 1 && j.length === 1 ? `${i}${j}` : `${i},${j}`;
    const lw = 64 + 7 * short.length;
    el("rect", { x: lx - lw / 2, y: ly - 9, width: lw, height: 17, rx: 3 }, g);
    const tx = el("text", { x: lx, y: ly + 4, "text-anchor": "middle" }, g);
    const tn = el("tspan", { fill: "#777" }, tx); tn.textContent = (I.showGrads ? "∂w" : "w") + short + " ";
    const tv = el("tspan", { "data-q": I.showGrads ? "dw" : "w", "data-id": wkey(i, j) }, tx); tv.textContent = I.showGrads ? fmt(w.grad) : fmt(w.value);
    const title = el("title", {}, g); title.textContent = `${name} = ${fmt(w.value)},  ∂L/∂${name} = ${fmt(w.grad)}`;
    g.addEventListener("click", () => select("w", [i, j]));
  }
  for (const id of v.ids) {
    const p = L.pos[id], n = v.neurons[id];
    const cls = ["neuron"];
    if (I.selected && I.selected.key === id && I.selected.kind !== "w") cls.push("selected");
    if (current === id) cls.push("active");
    const g = el("g", { class: cls.join(" "), "data-neuron": id, transform: `translate(${p.x},${p.y})` }, nodesG);
    el("rect", { width: p.w, height: p.h, rx: 8 }, g);
    const line = (k, label, q, value, extra) => {
      const t = el("text", { x: 8, y: 34 + 16 * k }, g);
      const a = el("tspan", { fill: "#666" }, t); a.textContent = label + " ";
      const b = el("tspan", { "data-q": q, "data-id": id, ...(extra || {}) }, t); b.textContent = value;
      return b;
    };
    const title = el("text", { x: 8, y: 16, class: "title" }, g);
    if (n.input) {
      title.textContent = `input ${neuronLabel(id)}`;
      const e = r.inputs[id];
      line(0, "x  =", "a", fmt(e.x));
      line(1, "∂L/∂x =", "dx", fmt(e.grad));
    } else {
      const e = r.neurons[id];
      title.textContent = `${neuronLabel(id)}  ${n.activation}${n.output ? "  (output)" : ""}`;
      line(0, "z  =", "z", fmt(e.z));
      line(1, $("notation").value === "exam" ? "x  =" : "a  =", "a", fmt(e.a)); // seed 004 writes x for the activity
      line(2, "σ′ =", "sp", fmt(e.sigma_prime));
      const hidden = revealed && !revealed.has(id);
      const d = line(3, "δ  =", "delta", hidden ? "?" : fmt(e.delta));
      if (hidden) d.setAttribute("class", "hidden-delta");
      // the bias, clickable, under the box
      const bg = el("g", { class: "blabel" + (I.selected && I.selected.kind === "b" && I.selected.key === id ? " selected" : ""), transform: `translate(0,${p.h + 3})` }, g);
      el("rect", { x: 0, y: 0, width: p.w, height: 16, rx: 3, fill: "#f4f4f4", stroke: "#ccc" }, bg);
      const bt = el("text", { x: 5, y: 12 }, bg);
      const b1 = el("tspan", { fill: "#666" }, bt); b1.textContent = `b `;
      const b2 = el("tspan", { "data-q": "b", "data-id": id }, bt); b2.textContent = fmt(r.biases[id].value);
      const b3 = el("tspan", { fill: "#666" }, bt); b3.textContent = "  ∂b ";
      const b4 = el("tspan", { "data-q": "db", "data-id": id }, bt); b4.textContent = fmt(r.biases[id].grad);
      bg.addEventListener("click", (ev) => { ev.stopPropagation(); select("b", id); });
    }
    g.addEventListener("click", () => { if (!n.input) select("z", id); });
  }
}

function drawLoss() {
  const v = I.view;
  const t = Object.entries(v.t).map(([k, x]) => `t${k} = ${fmt(x)}`).join(", ");
  const named = v.report.loss_name !== v.loss ? ` (${esc(v.report.loss_name)})` : "";
  $("loss-line").innerHTML = `L = <span class="lf">${esc(v.loss)}</span>${named} = <b data-q="loss">${fmt(v.report.loss)}</b>` +
    `  <span class="hint">${t}${v.samples > 1 ? `, sample ${v.sample + 1} of ${v.samples}; ∂L/∂w over the batch (${esc(v.reduction)})` : ""}</span>`;
}

function field(kind, key, value, cls) {
  const keyText = Array.isArray(key) ? key.join("->") : (key ?? "");
  return `<input data-edit="${esc(kind)}" data-key="${esc(keyText)}" value="${esc(value)}" class="${cls || "num"}"><span class="err" data-err="${esc(kind)}:${esc(keyText)}"></span>`;
}

function drawEditor() {
  const v = I.view;
  const lossInput = $("loss-field");
  if (document.activeElement !== lossInput) lossInput.value = v.loss;
  let s = "";
  const name = (p, k) => (/^\d+$/.test(k) ? `${p}${esc(k)}` : `${p}<sub>${esc(k)}</sub>`);
  s += `<div class="row"><label>sample x</label>` + Object.entries(v.x).map(([k, x]) => `${/^\d+$/.test(k) ? "x" + esc(k) : esc(k)} ${field("x", k, x)}`).join(" ") + `</div>`;
  s += `<div class="row"><label>target t</label>` + Object.entries(v.t).map(([k, x]) => `${name("t", k)} ${field("t", k, x)}`).join(" ") + `</div>`;
  if (v.samples > 1) s += `<div class="row"><label>sample (0 … ${v.samples - 1})</label>${field("sample", "", v.sample)}</div>`;
  $("sample-fields").innerHTML = s;
  let t = "<tr><th>neuron</th><th>activation σ(z)</th><th>bias b</th><th>incoming weights w<sub>ij</sub></th></tr>";
  for (const j of v.ids) {
    const n = v.neurons[j];
    if (n.input) continue;
    const ws = v.edges.filter(([, jj]) => jj === j).map(([i]) => `w${esc(i)},${esc(j)} ${field("weight", [i, j], v.report.weights[`${i}->${j}`].value)}`).join("<br>");
    t += `<tr><td>${esc(j)}</td><td>${field("activation", j, n.activation, "formula")}</td><td>${field("bias", j, v.report.biases[j].value)}</td><td>${ws}</td></tr>`;
  }
  $("param-table").innerHTML = t;
  document.querySelectorAll("#editor input[data-edit]").forEach((inp) => inp.addEventListener("change", onEdit));
}

async function onEdit(ev) {
  const inp = ev.target;
  const kind = inp.dataset.edit;
  const keyText = inp.dataset.key || "";
  const key = kind === "weight" ? keyText.split("->") : keyText;
  const errEl = inp.nextElementSibling && inp.nextElementSibling.classList.contains("err") ? inp.nextElementSibling : null;
  try {
    const view = await api("/api/edit", { field: kind, key, value: inp.value });
    if (errEl) errEl.textContent = "";
    inp.classList.remove("bad");
    setView(view);
    status("");
  } catch (e) {
    if (errEl) errEl.textContent = e.message;
    inp.classList.add("bad");
  }
}

function clearPanels() {
  I.selected = null; I.backstep = null;
  for (const id of ["update-table", "backstep", "derivation"]) $(id).innerHTML = "";
  document.querySelectorAll("#editor .err").forEach((e) => { e.textContent = ""; });
}

function setView(view) {
  I.view = view;
  $("net-source").textContent = view.source;
  drawLoss(); drawNet(); drawEditor();
  if (I.selected) showDerivation();
}

async function select(kind, key) {
  I.selected = { kind, key };
  drawNet();
  await showDerivation();
}

async function showDerivation() {
  const s = I.selected, box = $("derivation");
  if (!s) return;
  const ticket = (I.ticket = (I.ticket || 0) + 1);
  box.innerHTML = `<p class="hint">deriving…</p>`;
  try {
    const lr = s.kind === "z" ? null : $("lr").value;
    const r = await api("/api/derive", { kind: s.kind, key: s.key, lr, notation: $("notation").value });
    if (ticket !== I.ticket) return;
    const v = I.view;
    let edit = "";
    if (s.kind === "w") edit = `w${esc(s.key[0])},${esc(s.key[1])} = ${field("weight", s.key, v.report.weights[s.key.join("->")].value)}`;
    else if (s.kind === "b") edit = `b${esc(s.key)} = ${field("bias", s.key, v.report.biases[s.key].value)}`;
    else edit = `σ<sub>${esc(s.key)}</sub>(z) = ${field("activation", s.key, v.neurons[s.key].activation, "formula")}`;
    box.innerHTML = `<div class="quick-edit">${edit}</div>` + markdown(r.markdown);
    box.querySelectorAll("input[data-edit]").forEach((inp) => inp.addEventListener("change", onEdit));
    box.dataset.wrt = s.kind + (Array.isArray(s.key) ? s.key.join("->") : s.key);
  } catch (e) {
    if (ticket === I.ticket) box.innerHTML = `<p class="err">${esc(e.message)}</p>`;
  }
}

// step backward: δ appears neuron by neuron, last first, with the terms w_jk δ_k it receives
function backOrder() {
  const v = I.view;
  return v.ids.filter((id) => !v.neurons[id].input).slice().reverse();
}
function stepBack() {
  if (!I.backstep || I.backstep.k >= I.backstep.order.length) I.backstep = { order: backOrder(), k: 0 };
  I.backstep.k += 1;
  const j = I.backstep.order[I.backstep.k - 1];
  const n = I.view.report.neurons[j];
  const parts = [], nums = [];
  if (n.output) { parts.push(`\\frac{\\partial L}{\\partial a_{${j}}}`); nums.push(fmt(n.dL_da)); }
  for (const c of n.terms) {
    parts.push(`w_{${j},${c.to}}\\,\\delta_{${c.to}}`);
    nums.push(`(${fmt(c.w)})(${fmt(c.delta)})`);
  }
  const sum = (n.output ? [n.dL_da] : []).concat(n.terms.map((c) => c.term)).reduce((a, b) => a + b, 0);
  let eq = `\\delta_{${j}} = \\sigma'(z_{${j}})\\Big(${parts.join(" + ")}\\Big) = ${fmt(n.sigma_prime)}\\,\\big(${nums.join(" + ")}\\big) = ${fmt(n.sigma_prime)} \\cdot ${fmt(sum)} = ${fmt(n.delta)}`;
  if (n.coupled) { // softmax: every output's a depends on every z of the layer
    const outs = I.view.outputs;
    eq = `\\delta_{${j}} = \\sum_k \\frac{\\partial a_k}{\\partial z_{${j}}}\\frac{\\partial L}{\\partial a_k} = \\sum_k a_k(\\mathbb{1}[k = ${j}] - a_{${j}})\\frac{\\partial L}{\\partial a_k} = ${fmt(n.delta)}` +
      (outs.length ? `\\quad (k \\in \\{${outs.join(", ")}\\})` : "");
  }
  const done = I.backstep.k >= I.backstep.order.length;
  $("backstep").innerHTML = `<h3>Backward, step ${I.backstep.k} of ${I.backstep.order.length}: neuron ${esc(j)}</h3>` + tex(eq, true) +
    (n.terms.length ? `<p class="hint">terms w<sub>jk</sub>δ<sub>k</sub>: ${n.terms.map((c) => `w${esc(j)},${esc(c.to)}·δ${esc(c.to)} = ${fmt(c.term)}`).join("; ")}</p>` : "") +
    (done ? `<p class="hint">every δ shown.</p>` : "");
  drawNet();
  if (done) I.backstep = null;
}

async function applyUpdate() {
  try {
    const r = await api("/api/update", { lr: $("lr").value });
    let t = `<h3>Update w ← w − η ∂L/∂w, η = ${esc($("lr").value)}</h3><table><tr><th></th><th>old</th><th>∂L/∂w</th><th>new</th></tr>`;
    for (const row of r.rows) t += `<tr><td>${esc(row.name)}</td><td>${fmt(row.old)}</td><td>${fmt(row.grad)}</td><td data-new="${esc(row.name)}">${fmt(row.new)}</td></tr>`;
    $("update-table").innerHTML = t + "</table>";
    setView(r.view);
    status("");
  } catch (e) { status(e.message, true); }
}

async function loadInspect() {
  try { setView(await api("/api/state")); } catch (e) { status(e.message, true); }
}

function initInspect() {
  $("show-grads").addEventListener("change", (e) => { I.showGrads = e.target.checked; drawNet(); });
  $("step-back").addEventListener("click", stepBack);
  $("step-all").addEventListener("click", () => { I.backstep = null; $("backstep").innerHTML = ""; drawNet(); });
  $("apply-update").addEventListener("click", applyUpdate);
  $("loss-field").addEventListener("change", onEdit);
  $("notation").addEventListener("change", () => { drawNet(); showDerivation(); });
  $("lr").addEventListener("change", () => { if (I.selected && I.selected.kind !== "z") showDerivation(); });
  $("reset-net").addEventListener("click", async () => {
    try { clearPanels(); setView(await api("/api/reset", {})); status(""); }
    catch (e) { status(e.message, true); }
  });
  $("open-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    try {
      const text = await f.text();
      const view = await api("/api/open", { text, name: f.name });
      clearPanels(); setView(view); status(`opened ${f.name}`);
    } catch (e) { status(e.message, true); }
    ev.target.value = "";
  });
  loadInspect();
}

// ================================================================ train mode
const SETS = ["circle", "xor", "gauss", "spiral", "plane"];
const FEATURES = [["x1", "x₁"], ["x2", "x₂"], ["x1sq", "x₁²"], ["x2sq", "x₂²"], ["x1x2", "x₁x₂"], ["sinx1", "sin x₁"], ["sinx2", "sin x₂"]];
const LAYER_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"];
const T = { ws: null, cfg: { dataset: "circle", noise: 0, train_ratio: 0.5, features: ["x1", "x2"], hidden: [4, 2], activation: "tanh", lr: 0.03, optimizer: "sgd", l2: 0, batch_size: 10 },
  data: null, curves: null, playing: false, hover: null, frames: 0, last: null };
window.__playground = T; // for the tests and the benchmark: frames drawn, last frame

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/train`);
  T.ws = ws;
  ws.onopen = () => sendConfig();
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  ws.onclose = () => { if (T.ws === ws) { status("training connection closed; reload the page", true); T.ws = null; } };
}
function send(msg) { if (T.ws && T.ws.readyState === 1) T.ws.send(JSON.stringify(msg)); }
function sendConfig() { send({ cmd: "config", config: T.cfg }); }

function onMessage(m) {
  if (m.type === "data") { T.data = m; drawTrainNet(); drawLegend(); } // the next frame replaces the curves
  else if (m.type === "frame") { onFrame(m); }
  else if (m.type === "state") { T.playing = m.playing; $("play").textContent = m.playing ? "pause" : "play"; }
  else if (m.type === "error") { status(m.message, true); }
  else if (m.type === "inspect_ready") { setMode("inspect"); clearPanels(); loadInspect(); }
}

function onFrame(f) {
  if (f.replace || !T.curves) T.curves = { epoch: [], train: [], test: [], grad_norm: [], mean_delta: [] };
  for (const k of Object.keys(T.curves)) T.curves[k].push(...(f.curves[k] || []));
  T.last = f;
  requestAnimationFrame(() => {
    drawHeatmap(f);
    $("epoch").textContent = f.epoch;
    $("train-loss").textContent = fmt(f.train);
    $("test-loss").textContent = fmt(f.test);
    drawCurves();
    updateTrainNet(f);
    T.frames += 1;
    send({ cmd: "ack" });
  });
}

function color(v, lo, hi) { // lo → orange, middle → white, hi → blue (the Playground's palette)
  const u = Math.max(-1, Math.min(1, (2 * (v - lo)) / (hi - lo) - 1));
  const [r1, g1, b1] = u < 0 ? [232, 113, 10] : [8, 119, 189];
  const a = Math.abs(u);
  return [255 + (r1 - 255) * a, 255 + (g1 - 255) * a, 255 + (b1 - 255) * a];
}

function drawHeatmap(f) {
  const c = $("heatmap"), ctx = c.getContext("2d");
  const n = Math.round(Math.sqrt(f.heatmap.length));
  const values = f.hover_heatmap || f.heatmap;
  let lo = 0, hi = 1;
  if (f.hover_heatmap) { const m = Math.max(1e-9, ...values.map(Math.abs)); lo = -m; hi = m; }
  else if (T.data && T.data.task === "regression") { lo = -1; hi = 1; }
  const img = ctx.createImageData(n, n);
  for (let k = 0; k < values.length; k++) {
    const [r, g, b] = color(values[k], lo, hi);
    img.data[4 * k] = r; img.data[4 * k + 1] = g; img.data[4 * k + 2] = b; img.data[4 * k + 3] = 160;
  }
  const off = (T.off ||= document.createElement("canvas"));
  off.width = n; off.height = n;
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, c.width, c.height);
  $("heat-label").textContent = f.hover_heatmap ? `${f.hover[0] + 1 === T.data.sizes.length - 1 ? "the output neuron" : `hidden layer ${f.hover[0] + 1}, neuron ${f.hover[1] + 1}`}: its activity a (orange −, blue +)` : (T.data && T.data.task === "regression" ? "output (regression)" : "output: P(class +1) (orange 0, blue 1)");
  if (!T.data) return;
  const s = T.data.scale, W = c.width;
  const px = (x) => ((x + s) / (2 * s)) * W, py = (y) => ((s - y) / (2 * s)) * W;
  const dot = (p, test) => {
    const [r, g, b] = T.data.task === "regression" ? color(p[2], -1, 1) : color(p[2], 0, 1);
    ctx.beginPath(); ctx.arc(px(p[0]), py(p[1]), 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${r},${g},${b})`; ctx.fill();
    ctx.lineWidth = test ? 1.6 : 1; ctx.strokeStyle = test ? "#000" : "#fff"; ctx.stroke();
  };
  T.data.train.forEach((p) => dot(p, false));
  T.data.test.forEach((p) => dot(p, true));
}

function chart(canvas, series, log) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  const xs = T.curves.epoch;
  if (xs.length < 1) return;
  let lo = Infinity, hi = -Infinity;
  const tr = (v) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
  for (const s of series) for (const v of s.values) if (typeof v === "number" && isFinite(v)) { lo = Math.min(lo, tr(v)); hi = Math.max(hi, tr(v)); }
  if (!isFinite(lo)) return;
  if (!log) lo = Math.min(0, lo);
  if (hi - lo < 1e-9) hi = lo + 1;
  const x0 = xs[0], x1 = Math.max(xs[xs.length - 1], x0 + 1);
  const X = (x) => 34 + ((x - x0) / (x1 - x0)) * (W - 40), Y = (v) => H - 14 - ((tr(v) - lo) / (hi - lo)) * (H - 22);
  ctx.font = "10px sans-serif"; ctx.fillStyle = "#666";
  const lab = (v) => (log ? "1e" + v.toFixed(1) : v.toPrecision(2));
  ctx.fillText(lab(hi), 2, 10); ctx.fillText(lab(lo), 2, H - 14); ctx.fillText(`epoch ${xs[xs.length - 1]}`, W - 70, H - 2);
  for (const s of series) {
    ctx.beginPath(); ctx.strokeStyle = s.color; ctx.lineWidth = 1.5;
    const n = s.values.length, step = Math.max(1, Math.floor(n / W)); // at most about one point per pixel column
    let started = false;
    const plot = (k) => {
      const v = s.values[k];
      if (typeof v !== "number" || !isFinite(v)) return;
      const x = X(xs[k]), y = Y(v);
      if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
    };
    for (let k = 0; k < n; k += step) plot(k);
    if ((n - 1) % step) plot(n - 1); // the latest epoch always
    ctx.stroke();
  }
}

function drawCurves() {
  const c = T.curves;
  if (!c) return;
  chart($("loss-chart"), [{ values: c.train, color: "#999" }, { values: c.test, color: "#000" }], false);
  const L = c.mean_delta.length ? c.mean_delta[0].length : 0;
  const per = (key) => Array.from({ length: L }, (_, l) => ({ values: c[key].map((row) => row[l]), color: LAYER_COLORS[l % LAYER_COLORS.length] }));
  chart($("delta-chart"), per("mean_delta"), true);
  chart($("grad-chart"), per("grad_norm"), true);
}

function drawLegend() {
  const L = T.data.sizes.length - 1;
  $("layer-legend").innerHTML = Array.from({ length: L }, (_, l) => `<span style="color:${LAYER_COLORS[l % LAYER_COLORS.length]}">■ ${l === L - 1 ? "output layer" : "hidden layer " + (l + 1)}</span>`).join("");
}

function drawTrainNet() {
  const svg = $("train-net"), sizes = T.data.sizes;
  svg.innerHTML = "";
  const W = 420, H = 340, cols = sizes.length, box = 26;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const X = (l) => 56 + (l * (W - 110)) / Math.max(1, cols - 1);
  const Y = (j, n) => 24 + ((j + 0.5) * (H - 60)) / n;
  T.netPos = [];
  const edges = el("g", {}, svg);
  for (let l = 1; l < cols; l++) for (let j = 0; j < sizes[l]; j++) for (let k = 0; k < sizes[l - 1]; k++)
    el("line", { x1: X(l - 1) + box, y1: Y(k, sizes[l - 1]) + box / 2, x2: X(l), y2: Y(j, sizes[l]) + box / 2, stroke: "#ccc" }, edges);
  for (let l = 0; l < cols; l++) {
    for (let j = 0; j < sizes[l]; j++) {
      const g = el("g", { class: "tneuron", transform: `translate(${X(l)},${Y(j, sizes[l])})` }, svg);
      el("rect", { width: box, height: box, fill: "#fff", stroke: "#555", rx: 4 }, g);
      if (l === 0) { const t = el("text", { x: -4, y: 17, "text-anchor": "end" }, g); t.textContent = (FEATURES.find((f) => f[0] === T.data.features[j]) || [0, "?"])[1]; }
      else {
        g.dataset.layer = l - 1; g.dataset.j = j;
        const t = el("text", { x: box / 2, y: box + 10, "text-anchor": "middle", "data-md": `${l - 1}:${j}` }, g); t.textContent = "";
        g.addEventListener("mouseenter", () => { T.hover = [l - 1, j]; g.classList.add("hover"); send({ cmd: "hover", neuron: T.hover }); });
        g.addEventListener("mouseleave", () => { T.hover = null; g.classList.remove("hover"); send({ cmd: "hover", neuron: null }); });
      }
    }
    if (l > 0) { const t = el("text", { x: X(l) + box / 2, y: H - 8, "text-anchor": "middle", "data-layer-delta": l - 1 }, svg); t.textContent = ""; }
  }
  const h = el("text", { x: 4, y: 12 }, svg); h.textContent = "mean |δ| per neuron (per layer at the foot)";
}

function updateTrainNet(f) {
  const svg = $("train-net");
  const all = f.neuron_delta.flat().filter((v) => typeof v === "number");
  const mx = Math.max(1e-12, ...all);
  f.neuron_delta.forEach((row, l) => row.forEach((v, j) => {
    const t = svg.querySelector(`[data-md="${l}:${j}"]`);
    if (!t) return;
    t.textContent = fmt(v);
    const rect = t.parentNode.querySelector("rect");
    const a = Math.sqrt(Math.min(1, v / mx));
    rect.setAttribute("fill", `rgba(200, 30, 30, ${(0.05 + 0.8 * a).toFixed(3)})`);
  }));
  f.mean_delta.forEach((v, l) => { const t = svg.querySelector(`[data-layer-delta="${l}"]`); if (t) t.textContent = fmt(v); });
}

function initTrain() {
  $("datasets").innerHTML = SETS.map((s) => `<button data-set="${s}">${s}</button>`).join("");
  $("datasets").querySelectorAll("button").forEach((b) => b.addEventListener("click", () => { T.cfg.dataset = b.dataset.set; syncControls(); sendConfig(); }));
  $("features").innerHTML = FEATURES.map(([k, label]) => `<label data-f="${k}"><input type="checkbox" value="${k}"> ${label}</label>`).join("");
  $("features").querySelectorAll("input").forEach((c) => c.addEventListener("change", () => {
    const on = [...$("features").querySelectorAll("input:checked")].map((x) => x.value);
    if (!on.length) { c.checked = true; return; }
    T.cfg.features = on; syncControls(); sendConfig();
  }));
  const num = (id, key, scale) => $(id).addEventListener("change", (e) => { T.cfg[key] = Number(e.target.value) * (scale || 1); syncControls(); sendConfig(); });
  num("noise", "noise", 0.01); num("ratio", "train_ratio", 0.01); num("batch", "batch_size"); num("train-lr", "lr"); num("l2", "l2");
  $("noise").addEventListener("input", (e) => { $("noise-v").textContent = e.target.value; });
  $("ratio").addEventListener("input", (e) => { $("ratio-v").textContent = e.target.value; });
  $("activation").addEventListener("change", (e) => { T.cfg.activation = e.target.value; sendConfig(); });
  $("optimizer").addEventListener("change", (e) => { T.cfg.optimizer = e.target.value; sendConfig(); });
  $("add-layer").addEventListener("click", () => { if (T.cfg.hidden.length < 6) { T.cfg.hidden.push(2); syncControls(); sendConfig(); } });
  $("remove-layer").addEventListener("click", () => { if (T.cfg.hidden.length) { T.cfg.hidden.pop(); syncControls(); sendConfig(); } });
  $("play").addEventListener("click", () => send({ cmd: T.playing ? "pause" : "play" }));
  $("one-step").addEventListener("click", () => send({ cmd: "step" }));
  $("reset-train").addEventListener("click", () => send({ cmd: "reset" }));
  $("inspect-batch").addEventListener("click", () => send({ cmd: "inspect" }));
  $("csv-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0]; if (!f) return;
    send({ cmd: "csv", text: await f.text() }); T.cfg.dataset = "csv"; syncControls(); ev.target.value = "";
  });
  syncControls();
}

function syncControls() {
  const c = T.cfg;
  $("datasets").querySelectorAll("button").forEach((b) => b.classList.toggle("on", b.dataset.set === c.dataset));
  $("features").querySelectorAll("label").forEach((l) => { const on = c.features.includes(l.dataset.f); l.classList.toggle("on", on); l.querySelector("input").checked = on; });
  $("layers").innerHTML = c.hidden.map((n, l) => `<div class="layer">hidden ${l + 1}: <button data-l="${l}" data-d="-1">−</button> <b>${n}</b> <button data-l="${l}" data-d="1">+</button> neurons</div>`).join("") || "<div class='hint'>no hidden layer</div>";
  $("layers").querySelectorAll("button").forEach((b) => b.addEventListener("click", () => {
    const l = Number(b.dataset.l), n = c.hidden[l] + Number(b.dataset.d);
    if (n >= 1 && n <= 8) { c.hidden[l] = n; syncControls(); sendConfig(); }
  }));
  $("noise").value = Math.round(c.noise * 100); $("noise-v").textContent = Math.round(c.noise * 100);
  $("ratio").value = Math.round(c.train_ratio * 100); $("ratio-v").textContent = Math.round(c.train_ratio * 100);
  $("batch").value = c.batch_size; $("activation").value = c.activation; $("optimizer").value = c.optimizer;
  $("train-lr").value = String(c.lr); $("l2").value = String(c.l2);
}

// ================================================================ modes
function setMode(mode) {
  document.querySelectorAll(".tab").forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
  $("inspect").classList.toggle("hidden", mode !== "inspect");
  $("train").classList.toggle("hidden", mode !== "train");
  if (mode === "train" && !T.ws) connect();
  if (mode === "inspect" && T.playing) send({ cmd: "pause" });
  if (mode === "train") status("");
}
document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => setMode(b.dataset.mode)));
initInspect();
initTrain();
if (location.hash === "#train") setMode("train");
