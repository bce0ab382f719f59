// Shared by the three pages: the form of parameters, the URL, the training socket, and drawing on
// plain 2-D canvases (no library: the package works offline). The server trains; this only draws.
"use strict";

const COLORS = ["#e69f00", "#0072b2", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#9e7b00", "#7a3e9d", "#333333", "#8c564b"];
const RGB = COLORS.map(c => [1, 3, 5].map(i => parseInt(c.slice(i, i + 2), 16)));

// The playground's fields: [name, label, kind, options]; kind: select | number | check.
const FORM = {
  data: [
    ["dataset", "data set", "select", ["spiral", "moons", "circles", "xor", "gauss"]],
    ["classes", "classes (spiral)", "number"], ["n_per_class", "points per class", "number"],
    ["noise", "noise", "number"], ["test_frac", "test fraction", "number"], ["data_seed", "data seed", "number"],
  ],
  net: [
    ["features", "inputs", "features", ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]],
    ["model", "model", "select", ["mlp", "linear", "logistic"]],
    ["depth", "hidden layers", "number"], ["width", "units per layer", "number"],
    ["widths", "layer sizes", "text", "e.g. 8x8x4 (sets both above)"],
    ["activation", "activation", "select", ["relu", "leaky_relu", "tanh", "sigmoid", "gelu", "none"]],
    ["activations", "layer activations", "text", "e.g. relu+tanh, one a layer"],
    ["init", "initialisation", "select", ["default", "xavier", "kaiming"]],
    ["batch_norm", "batch norm", "check"], ["residual", "residual", "check"],
  ],
  train: [
    ["loss", "loss", "select", ["cross_entropy", "mse", "bce"]],
    ["optimizer", "optimizer", "select", ["adam", "adamw", "sgd", "rmsprop"]],
    ["lr", "learning rate", "number"], ["momentum", "momentum", "number"], ["nesterov", "Nesterov", "check"],
    ["weight_decay", "weight decay", "number"], ["batch_size", "batch size (0: all)", "number"],
    ["seed", "seed", "number"], ["steps", "steps", "number"],
  ],
};
const LABELS = {cross_entropy: "softmax + CE", mse: "MSE (one-hot)", bce: "sigmoid + BCE",
                linear: "linear (2 linear layers)", mlp: "MLP", logistic: "softmax regression"};

let DEFAULTS = {};
async function loadDefaults() {
  const r = await fetch("/api/fields");
  const j = await r.json();
  for (const [k, v] of Object.entries(j.fields)) DEFAULTS[k] = v.default;
  return j;
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

// A form section: inputs named prefix+field; returns {field: label element}.
function buildFields(parent, fields, prefix, onchange) {
  const out = {};
  for (const [name, label, kind, options] of fields) {
    let input;
    if (kind === "select") {
      input = el("select", {});
      for (const o of options) input.append(el("option", {value: o}, LABELS[o] || o));
    } else if (kind === "check") {
      input = el("input", {type: "checkbox"});
    } else if (kind === "features") {  // a hidden value ("" or names joined by +) behind one box a feature
      input = el("input", {type: "hidden"});
      const boxes = options.map(o => el("input", {type: "checkbox", value: o}));
      input.sync = () => {
        const on = input.value ? input.value.split("+") : ["x1", "x2"];
        for (const b of boxes) b.checked = on.includes(b.value);
      };
      for (const b of boxes) b.addEventListener("change", () => {
        const on = boxes.filter(c => c.checked).map(c => c.value);
        if (!on.length) { b.checked = true; return; }  // a net needs an input
        input.value = on.join("+") === "x1+x2" ? "" : on.join("+");
        onchange();
      });
      input.boxes = el("span", {class: "feats"}, ...boxes.map(b => el("label", {}, b, b.value.replace("^2", "²"))));
    } else if (kind === "text") {
      input = el("input", {type: "text", spellcheck: "false", placeholder: options});
    } else {
      input = el("input", {type: "text", inputmode: "decimal", spellcheck: "false"});
    }
    input.name = prefix + name;
    input.dataset.field = name;
    if (kind !== "features") input.addEventListener("change", onchange);
    const lab = input.boxes ? el("div", {class: "f", title: name}, label, input.boxes, input)
                            : el("label", {class: "f", title: name}, label, input);
    const err = el("div", {class: "err"});
    parent.append(lab, err);
    out[name] = {lab, input, err};
  }
  return out;
}

// What each model ignores: greyed out in the form, so nobody tunes a knob that does nothing.
const IGNORED = {linear: ["depth", "widths", "activation", "activations", "init", "batch_norm", "residual"],
                 logistic: ["depth", "width", "widths", "activation", "activations", "init", "batch_norm", "residual"],
                 mlp: []};
function greyIgnored(fields) {
  const model = fields.model ? fields.model.input.value : "mlp", ds = fields.dataset ? fields.dataset.input.value : "spiral";
  const off = new Set(IGNORED[model] || []);
  if (ds !== "spiral") off.add("classes");
  if (fields.widths && fields.widths.input.value.trim()) { off.add("depth"); off.add("width"); }
  if (fields.activations && fields.activations.input.value.trim()) off.add("activation");
  for (const [name, f] of Object.entries(fields)) {
    f.input.disabled = off.has(name);
    const why = name === "classes" ? "only the spiral has a number of classes"
      : ["depth", "width", "activation"].includes(name) && !(IGNORED[model] || []).includes(name) ? "set per layer below"
      : `the ${model} model does not use this`;
    f.lab.title = off.has(name) ? why : name;
    f.lab.style.opacity = off.has(name) ? 0.45 : 1;
  }
}

function readFields(fields) {
  const p = {};
  for (const [name, f] of Object.entries(fields)) {
    p[name] = f.input.type === "checkbox" ? f.input.checked : f.input.value.trim();
  }
  return p;
}

function writeFields(fields, values) {
  for (const [name, f] of Object.entries(fields)) {
    const v = values[name] !== undefined ? values[name] : DEFAULTS[name];
    if (v === undefined) continue;
    if (f.input.type === "checkbox") f.input.checked = v === true || v === "true";
    else f.input.value = String(v);
    if (f.input.sync) f.input.sync();
  }
}

function showError(fields, err) {
  for (const f of Object.values(fields)) { f.lab.classList.remove("bad"); f.err.textContent = ""; }
  if (!err) return;
  const f = fields[err.field];
  const text = err.message + (err.valid ? `\nvalid: ${err.valid}` : "");
  if (f) { f.lab.classList.add("bad"); f.err.textContent = text; }
  return f ? null : text;
}

// The state in the URL: only values off their defaults, so a link stays short.
function paramsFromURL(prefix) {
  const q = new URLSearchParams(location.search), p = {};
  for (const [k, v] of q) if (k.startsWith(prefix)) p[k.slice(prefix.length)] = v;
  return p;
}
function toQuery(p, prefix, q, ref) {
  ref = ref || DEFAULTS;
  for (const [k, v] of Object.entries(p)) if (String(v) !== String(ref[k])) q.set(prefix + k, v);
  return q;
}

async function checkConfig(p) {
  const r = await fetch("/api/check", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(p)});
  const j = await r.json();
  return r.ok ? {config: j.config} : {error: j};
}

// One training on the server. handlers: ready(msg), frame(msg), saved(msg), error(msg), closed().
class Trainer {
  constructor(handlers) {
    this.h = handlers; this.queue = [];
    this.ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    this.ws.onopen = () => { for (const m of this.queue) this.ws.send(m); this.queue = []; };
    this.ws.onmessage = ev => {
      const msg = JSON.parse(ev.data);
      msg.received = Date.now();
      (this.h[msg.type] || (() => {}))(msg);
    };
    this.ws.onclose = () => (this.h.closed || (() => {}))();
    // Leaving the page closes the socket, so the server stops this training and frees its slot (a page
    // kept in the back-forward cache would otherwise hold one of the server's few trainings open).
    window.addEventListener("pagehide", () => this.ws.close());
    window.addEventListener("pageshow", ev => { if (ev.persisted) location.reload(); });  // back: a fresh socket
  }
  send(obj) {
    const m = JSON.stringify(obj);
    if (this.ws.readyState === 1) this.ws.send(m); else this.queue.push(m);
  }
}

function b64bytes(s) {
  const bin = atob(s), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// Decision regions: each cell's colour mixes the class colours by probability, paler where unsure;
// then the points (train filled, test with a dark ring).
function drawRegions(canvas, frame, pts) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  if (!pts) return;
  const C = pts.classes, n = frame ? frame.grid : 0;
  if (frame) {
    const p = b64bytes(frame.probs), img = ctx.createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      let r = 0, g = 0, b = 0, top = 0;
      for (let c = 0; c < C; c++) {
        const w = p[i * C + c] / 255; r += w * RGB[c % 10][0]; g += w * RGB[c % 10][1]; b += w * RGB[c % 10][2];
        top = Math.max(top, w);
      }
      const a = C > 1 ? Math.max(0, (top - 1 / C) / (1 - 1 / C)) : 1;  // 0 where unsure, 1 where sure
      const k = 0.25 + 0.45 * a;  // how much of the class colour shows over white
      img.data[4 * i] = 255 * (1 - k) + r * k; img.data[4 * i + 1] = 255 * (1 - k) + g * k;
      img.data[4 * i + 2] = 255 * (1 - k) + b * k; img.data[4 * i + 3] = 255;
    }
    const off = document.createElement("canvas"); off.width = n; off.height = n;
    off.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true; ctx.drawImage(off, 0, 0, W, H);
  }
  const [x0, x1, y0, y1] = pts.bounds;
  const sx = v => (v - x0) / (x1 - x0) * W, sy = v => (y1 - v) / (y1 - y0) * H;
  const rad = Math.max(1.6, Math.min(3.2, 1200 / Math.sqrt(pts.train.length + pts.test.length) / 12));
  for (const [split, list] of [["train", pts.train], ["test", pts.test]]) {
    for (const [x, y, c] of list) {
      ctx.beginPath(); ctx.arc(sx(x), sy(y), split === "test" ? rad + 0.6 : rad, 0, 2 * Math.PI);
      ctx.fillStyle = COLORS[c % 10]; ctx.fill();
      ctx.lineWidth = split === "test" ? 1.3 : 0.5; ctx.strokeStyle = split === "test" ? "#111" : "#fff"; ctx.stroke();
    }
  }
  // axes ticks: the data's coordinates at the corners
  ctx.fillStyle = "rgba(29,35,48,.75)"; ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(`x1 ${x0.toFixed(2)} .. ${x1.toFixed(2)}`, 6, H - 6);
  ctx.save(); ctx.translate(12, H - 90); ctx.rotate(-Math.PI / 2); ctx.fillText(`x2 ${y0.toFixed(2)} .. ${y1.toFixed(2)}`, 0, 0); ctx.restore();
}

// Curves: series [{label, color, dash, xs, ys}], y from lo to hi (null: from the data), log axis optional.
function fitWidth(canvas) {  // as wide as its box: no chart cut off or lost in white space
  const box = canvas.parentElement, cs = getComputedStyle(box);
  const w = Math.floor(box.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight));
  if (w > 200 && Math.abs(canvas.width - w) > 1) canvas.width = w;
}

// Ticks at round values (1, 2, 2.5 or 5 times a power of ten) covering lo..hi, about n of them.
function niceTicks(lo, hi, n) {
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(v => v >= raw * 0.999) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return {ticks: out, step};
}

function tickLabel(v, step) {
  const d = Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) + (String(step / Math.pow(10, Math.floor(Math.log10(step)))).includes(".") ? 1 : 0);
  return Math.abs(v) >= 1e4 ? v.toExponential(1) : v.toFixed(Math.min(d, 4));
}

// A series that swings up and down every step (a too-large lr) is unreadable as a line: it turns
// back at most of its points, by steps that are a visible share of the axis. Such a series is drawn
// faint, with its moving average on top. (A flat, slightly noisy curve is left as it is.)
function swinging(ys, span) {
  const v = ys.filter(y => y !== null && isFinite(y));
  if (v.length < 20) return false;
  let turns = 0, moved = 0;
  for (let i = 1; i < v.length; i++) {
    moved += Math.abs(v[i] - v[i - 1]);
    if (i > 1 && (v[i] - v[i - 1]) * (v[i - 1] - v[i - 2]) < 0) turns++;
  }
  return turns > 0.4 * (v.length - 2) && moved / (v.length - 1) > 0.03 * span;
}

function movingAverage(ys, k) {
  const out = [];
  for (let i = 0; i < ys.length; i++) {
    let sum = 0, n = 0;
    for (let j = Math.max(0, i - k + 1); j <= i; j++) if (ys[j] !== null && isFinite(ys[j])) { sum += ys[j]; n++; }
    out.push(n ? sum / n : null);
  }
  return out;
}

function drawCurves(canvas, series, opts) {
  fitWidth(canvas);
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  const L = 46, R = 10, T = 22, B = 26;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  ctx.font = "11px system-ui, sans-serif"; ctx.fillStyle = "#1d2330";
  ctx.fillText(opts.title, L, 13);
  const all = series.flatMap(s => s.ys.filter(v => v !== null && isFinite(v)));
  let xmax = Math.max(1, ...series.map(s => s.xs.length ? s.xs[s.xs.length - 1] : 0), opts.xmax || 0);
  let lo = opts.lo, hi = opts.hi;
  if (lo === undefined || lo === null) lo = all.length ? Math.min(...all) : 0;
  if (hi === undefined || hi === null) hi = all.length ? Math.max(...all) : 1;
  if (opts.zero) lo = Math.min(0, lo);
  if (hi - lo < 1e-9) hi = lo + 1;
  const yt = niceTicks(lo, hi, 4);
  lo = Math.min(lo, yt.ticks[0]); hi = Math.max(hi, yt.ticks[yt.ticks.length - 1]);  // the axis ends on a tick
  const X = x => L + x / xmax * (W - L - R), Y = y => T + (hi - Math.min(hi, Math.max(lo, y))) / (hi - lo) * (H - T - B);
  ctx.strokeStyle = "#e3e6ec"; ctx.lineWidth = 1; ctx.fillStyle = "#5b6475";
  for (const v of yt.ticks) {
    const y = Y(v);
    ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(W - R, y); ctx.stroke();
    ctx.fillText(tickLabel(v, yt.step), 4, y + 4);
  }
  const raw = xmax / 4, mag = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
  const stepx = Math.max(1, [1, 2, 2.5, 5, 10].map(m => m * mag).find(v => v >= raw) || 10 * mag);
  const ticks = [];
  for (let v = 0; v <= xmax + 1e-9; v += stepx) ticks.push(Math.round(v));
  for (const v of ticks) ctx.fillText(String(v), Math.min(X(v) - 8, W - R - 24), H - 8);
  ctx.fillText("step", 4, H - 8);  // the x axis's name, under the y labels: clear of every gridline
  const labels = [];
  for (const s of series) {
    const smooth = swinging(s.ys, hi - lo), k = Math.max(5, Math.round(s.ys.length / 12));
    const paths = smooth ? [[s.ys, 0.25, 1], [movingAverage(s.ys, k), 1, 1.9]] : [[s.ys, 1, 1.7]];
    for (const [ys, alpha, lw] of paths) {
      ctx.globalAlpha = alpha; ctx.strokeStyle = s.color; ctx.lineWidth = lw; ctx.setLineDash(s.dash ? [5, 4] : []);
      ctx.beginPath(); let on = false;
      for (let i = 0; i < s.xs.length; i++) {
        const v = ys[i];
        if (v === null || !isFinite(v)) { on = false; continue; }
        if (on) ctx.lineTo(X(s.xs[i]), Y(v)); else ctx.moveTo(X(s.xs[i]), Y(v));
        on = true;
      }
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    labels.push(smooth ? `${s.label} (avg of ${k})` : s.label);
  }
  ctx.setLineDash([]);
  // legend, top right, one row
  let x = W - R;
  [...series].reverse().forEach((s, i) => {
    const label = labels[series.length - 1 - i];
    const w = ctx.measureText(label).width + 26; x -= w;
    ctx.strokeStyle = s.color; ctx.lineWidth = 2; ctx.setLineDash(s.dash ? [4, 3] : []);
    ctx.beginPath(); ctx.moveTo(x, 9); ctx.lineTo(x + 16, 9); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#1d2330"; ctx.fillText(label, x + 19, 13);
  });
}

function fmt(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(1) : (a >= 100 ? v.toFixed(0) : v.toFixed(a >= 10 ? 1 : 3));
}

// A log axis for positive values: whole decades from below the smallest to above the largest.
function decades(values) {
  const pos = values.filter(v => v !== null && v > 0 && isFinite(v));
  if (!pos.length) return [-4, 0];
  let lo = Math.floor(Math.log10(Math.min(...pos))), hi = Math.ceil(Math.log10(Math.max(...pos)));
  if (hi - lo < 2) { lo -= 1; hi = Math.max(hi, lo + 2); }
  return [lo, hi];
}

// Per layer, two bars on log axes with a tick a decade: the weight gradient's norm ||dL/dW|| (what
// backprop delivers; vanishing gradients shrink it layer by layer) and the update the optimizer
// made from it, ||ΔW|| / ||W|| (what the layer actually learns per step). Both at the latest step.
function drawGrads(canvas, grads, updates, names) {
  fitWidth(canvas);
  const want = 34 + 18 * Math.max(2, (grads || []).length) + 20;  // as tall as its rows
  if (canvas.height !== want) canvas.height = want;
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  ctx.font = "11px system-ui, sans-serif";
  if (!grads || !grads.length) return;
  updates = updates || [];
  const L = 92, gap = 16, colW = (W - L - gap - 6) / 2, top = 34, bottom = 18;
  const rowH = Math.min(18, (H - top - bottom) / grads.length);
  const cols = [
    {title: "gradient ||dL/dW||", values: grads, color: "#0072b2", x0: L},
    {title: "update ||ΔW|| / ||W||", values: updates, color: "#444444", x0: L + colW + gap},
  ];
  ctx.fillStyle = "#1d2330";
  ctx.fillText("per layer at the latest step, log scales", 4, 12);
  grads.forEach((g, i) => {
    ctx.fillStyle = "#5b6475";
    ctx.fillText((i === grads.length - 1 ? "out " : `L${i + 1} `) + (names[i] || ""), 4, top + i * rowH + rowH * 0.7);
  });
  const yEnd = top + grads.length * rowH;
  for (const c of cols) {
    const [lo, hi] = decades(c.values), span = colW - 44;  // room for the value's label at the bar's end
    const X = e => c.x0 + (e - lo) / (hi - lo) * span;
    ctx.fillStyle = "#1d2330"; ctx.fillText(c.title, c.x0, 27);
    const every = Math.ceil((hi - lo) / Math.max(1, Math.floor(span / 34)));  // tick labels that fit
    for (let e = lo; e <= hi; e++) {
      ctx.strokeStyle = "#e3e6ec"; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(X(e), top - 2); ctx.lineTo(X(e), yEnd + 2); ctx.stroke();
      if ((e - lo) % every === 0) { ctx.fillStyle = "#5b6475"; ctx.fillText(`1e${e}`, X(e) - 8, yEnd + 14); }
    }
    c.values.forEach((v, i) => {
      const y = top + i * rowH;
      let text = "–", w = 0;
      if (v === 0) text = "0";
      else if (v !== null && v !== undefined && isFinite(v)) {
        w = Math.max(2, X(Math.min(hi, Math.max(lo, Math.log10(v)))) - c.x0);
        text = v.toExponential(1);
      }
      if (w) { ctx.fillStyle = c.color; ctx.fillRect(c.x0, y + 2, w, rowH - 5); }
      ctx.fillStyle = "#1d2330"; ctx.fillText(text, c.x0 + w + 3, y + rowH * 0.7);
    });
  }
}

// Hidden units' outputs over the plane, each on its own scale, in grey (not the class colours: a unit
// is not a class): white where the unit's output is lowest, black where highest. A unit whose output
// is the same everywhere has no map to show: it is marked constant (dead).
const UNIT_LOW = [255, 255, 255], UNIT_HIGH = [20, 20, 20];
function drawUnits(container, units, n) {
  container.textContent = "";
  if (!units || !units.length) { container.append(el("div", {class: "note"}, "this model has no hidden units")); return; }
  for (const layer of units) {
    const dead = (layer.constant || []).filter(Boolean).length;
    const row = el("div", {class: "row"}, el("span", {}, `hidden layer ${layer.layer}: ${layer.units === layer.of ? "all " + layer.of : "first " + layer.units + " of " + layer.of} units` +
                                                     (dead ? ` (${dead} constant: dead)` : "")));
    const q = b64bytes(layer.maps);
    for (let u = 0; u < layer.units; u++) {
      const constant = layer.constant && layer.constant[u];
      const c = el("canvas", {width: n, height: n, class: constant ? "dead" : "",
                              title: `layer ${layer.layer}, unit ${u + 1}` + (constant ? ": constant (dead)" : "")});
      const ctx = c.getContext("2d"), img = ctx.createImageData(n, n);
      for (let i = 0; i < n * n; i++) {
        const a = q[u * n * n + i] / 255;
        for (let k = 0; k < 3; k++) img.data[4 * i + k] = constant ? 236 : UNIT_LOW[k] * (1 - a) + UNIT_HIGH[k] * a;
        img.data[4 * i + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
      row.append(constant ? el("div", {class: "deadunit", title: c.title}, c, el("b", {}, "dead")) : c);
    }
    container.append(row);
  }
  const ramp = el("canvas", {width: 60, height: 8, class: "ramp"});
  const g = ramp.getContext("2d"), grad = g.createLinearGradient(0, 0, 60, 0);
  grad.addColorStop(0, "rgb(255,255,255)"); grad.addColorStop(1, "rgb(20,20,20)");
  g.fillStyle = grad; g.fillRect(0, 0, 60, 8);
  container.append(el("div", {class: "legend"}, "unit's lowest output", ramp, "highest",
                      el("span", {}, el("span", {class: "deadkey"}, "dead"), " constant over the plane (dead)")));
}

function nav(active) {
  const h = el("header", {}, el("b", {}, "nnstudy"));
  const n = el("nav", {});
  for (const [href, name] of [["/", "Playground"], ["/compare", "Compare"], ["/runs", "Runs"]]) {
    n.append(el("a", {href, class: name === active ? "on" : ""}, name));
  }
  h.append(n, el("span", {class: "hint"}, "training runs on this server with nnstudy's engine; the page only draws"));
  document.body.prepend(h);
}
