"use strict";
// Compare: two trainings on the same data and seed, side by side. The URL holds the shared data
// fields plainly and each side's own fields as a.NAME / b.NAME.
nav("Compare");
const $ = id => document.getElementById(id);
const SIDE_FIELDS = [...FORM.net, ...FORM.train];
// The sides' colours are not class colours (orange, blue, green, ...: the regions use those).
const SIDES = {a: {color: "#1d2330"}, b: {color: "#b3128a"}};
const WEEK = {a: {model: "linear", optimizer: "sgd", lr: "0.001", weight_decay: "1e-05"},
              b: {model: "mlp", activation: "relu", optimizer: "adam", lr: "0.001", weight_decay: "1e-05"}};
let dataFields = {}, running = false;
let edits = 0, checking = 0;  // as on the playground: only the latest edit is sent, and only its answer enables Run

function curves() {
  const s = [];
  for (const [k, side] of Object.entries(SIDES)) {
    const xs = side.hist.map(h => h.step);
    s.push({k, xs, side});
  }
  const total = Math.max(1, ...Object.values(SIDES).map(sd => sd.last ? sd.last.total : 1));
  drawCurves($("acc"), s.flatMap(({k, xs, side}) => [
    {label: `${k.toUpperCase()} train`, color: side.color, xs, ys: side.hist.map(h => h.m.train_acc)},
    {label: `${k.toUpperCase()} test`, color: side.color, dash: true, xs, ys: side.hist.map(h => h.m.test_acc)}]),
    {title: "accuracy", lo: 0, hi: 1, xmax: total});
  drawCurves($("loss"), s.flatMap(({k, xs, side}) => [
    {label: `${k.toUpperCase()} train`, color: side.color, xs, ys: side.hist.map(h => h.m.train_loss)},
    {label: `${k.toUpperCase()} test`, color: side.color, dash: true, xs, ys: side.hist.map(h => h.m.test_loss)}]),
    {title: "loss", zero: true, xmax: total});
}

function sideStats(k) {
  const f = SIDES[k].last, m = f ? f.metrics : {}, box = $("stats-" + k);
  box.innerHTML = "";
  for (const c of ["", "loss", "accuracy", "train", fmt(m.train_loss), fmt(m.train_acc), "test", fmt(m.test_loss), fmt(m.test_acc),
                   "step", f ? `${f.step} / ${f.total}` : "–", f && f.done ? f.status : ""]) box.append(el("div", {}, c));
}

function connect(k) {
  const side = SIDES[k];
  side.hist = []; side.last = null;
  side.trainer = new Trainer({
    ready(msg) {
      side.pts = {train: msg.train, test: msg.test, classes: msg.classes, bounds: msg.bounds}; side.hist = [];
      side.answered = (side.answered || 0) + 1;
      side.acked = side.answered === side.sent && checking === 0; side.config = msg.config;
      $("open-" + k).href = "/?" + toQuery(msg.config, "", new URLSearchParams()).toString();
      const lg = $("legend-" + k); lg.textContent = "";
      for (let c = 0; c < msg.classes; c++) lg.append(el("span", {}, el("i", {style: `background:${COLORS[c % 10]}`}), `class ${c}`));
      lg.append(el("span", {}, "ringed: test"));
      buttons();
    },
    frame(msg) {
      side.last = msg;
      if (!side.hist.length || side.hist[side.hist.length - 1].step < msg.step) side.hist.push({step: msg.step, m: msg.metrics});
      else if (side.hist[side.hist.length - 1].step > msg.step) side.hist = [{step: msg.step, m: msg.metrics}];
      drawRegions($("reg-" + k), msg, side.pts); sideStats(k); curves();
      status();
    },
    saved(msg) {
      message(`${k.toUpperCase()} saved as run ${msg.run} (${msg.steps} steps): nnstudy show ${msg.run}` +
              (msg.warnings && msg.warnings.length ? `; stored with its warnings: ${msg.warnings.map(w => w.split(":")[0]).join(", ")}` : ""), true);
    },
    error(msg) {
      if ((msg.status === 422 || msg.status === 503) && (side.answered || 0) < (side.sent || 0)) side.answered = (side.answered || 0) + 1;
      const rest = msg.status === 422 ? showError(msg.field in side.fields ? side.fields : dataFields, msg) : msg.message;
      if (rest) message(`${k.toUpperCase()}: ${rest}`);
    },
    closed() { $("status").textContent = "disconnected from the server (reload the page)"; },
  });
}

// Both sides' progress in one line: training, paused, done (and how each ended).
function status() {
  const ls = Object.entries(SIDES).map(([k, sd]) => [k, sd.last]);
  if (ls.some(([, f]) => !f)) return;
  const all = ls.every(([, f]) => f.done);
  if (all) { running = false; $("run").textContent = "Run both"; }
  const part = ([k, f]) => `${k.toUpperCase()} ` + (f.done ? (f.status === "diverged" ? "diverged" : "finished") +
    ((f.verdict || []).length ? ` (${f.verdict.map(v => v.short).join(", ")})` : "") : `step ${f.step}`);
  $("status").textContent = (all ? "done: " : running ? "training… " : "paused: ") + ls.map(part).join(" · ");
  buttons();
}

function buttons() {
  const ok = Object.values(SIDES).every(sd => sd.acked), done = Object.values(SIDES).every(sd => sd.last && sd.last.done);
  $("run").disabled = !ok || (done && !running); $("reset").disabled = !ok;
  for (const [k, sd] of Object.entries(SIDES)) $("save-" + k).disabled = !sd.acked || !sd.last || sd.last.step < 1;
}

function message(text, ok) {
  $("message").textContent = "";
  if (text) $("message").append(el("div", {class: "msg " + (ok ? "ok" : "bad")}, text));
}

async function apply() {
  message("");
  greyIgnored(dataFields);
  for (const k of Object.keys(SIDES)) greyIgnored(SIDES[k].fields);
  const shared = readFields(dataFields), q = toQuery(shared, "", new URLSearchParams());
  const mine = ++edits, checked = {};
  for (const side of Object.values(SIDES)) side.acked = false;
  buttons();
  checking++;
  try {
    for (const k of Object.keys(SIDES)) checked[k] = await checkConfig({...shared, ...readFields(SIDES[k].fields)});
  } finally { checking--; }
  if (mine !== edits) return;  // a newer edit is being checked: it alone goes to the server
  let ok = true;
  for (const k of Object.keys(SIDES)) {
    const r = checked[k];
    showError(SIDES[k].fields, null);
    if (r.error) {
      ok = false;
      const rest = showError(r.error.field in dataFields ? dataFields : SIDES[k].fields, r.error);
      if (rest) message(`${k.toUpperCase()}: ${rest}`);
      continue;
    }
    SIDES[k].config = r.config;
    toQuery(readFields(SIDES[k].fields), k + ".", q, {...DEFAULTS, ...WEEK[k]});
  }
  history.replaceState(null, "", "?" + q.toString());
  if (!ok) return;
  running = false; $("run").textContent = "Run both";
  for (const side of Object.values(SIDES)) {
    side.hist = []; side.sent = (side.sent || 0) + 1;
    side.trainer.send({type: "config", config: side.config});
  }
}

$("run").onclick = () => {
  running = !running;
  for (const side of Object.values(SIDES)) side.trainer.send({type: running ? "run" : "pause"});
  $("run").textContent = running ? "Pause both" : "Run both";
  $("status").textContent = running ? "training…" : "paused";
};
$("reset").onclick = () => {
  running = false; $("run").textContent = "Run both";
  for (const side of Object.values(SIDES)) { side.hist = []; side.trainer.send({type: "reset"}); }
};
for (const k of Object.keys(SIDES)) $("save-" + k).onclick = () => SIDES[k].trainer.send({type: "save"});
$("week").onclick = () => {
  writeFields(dataFields, {});
  for (const k of Object.keys(SIDES)) writeFields(SIDES[k].fields, WEEK[k]);
  apply();
};

(async () => {
  await loadDefaults();
  const shared = FORM.data.filter(f => f[0] !== "data_seed").concat([["seed", "seed (both)", "number"], ["steps", "steps (both)", "number"]]);
  dataFields = buildFields($("f-data"), shared, "", apply);
  writeFields(dataFields, paramsFromURL(""));
  const own = SIDE_FIELDS.filter(f => !["seed", "steps"].includes(f[0]));
  for (const k of Object.keys(SIDES)) {
    SIDES[k].fields = buildFields($("f-" + k), own, k + ".", apply);
    const given = paramsFromURL(k + ".");
    writeFields(SIDES[k].fields, {...WEEK[k], ...given});  // a side's URL holds what differs from its week default
    connect(k);
  }
  curves();
  buttons();
  apply();
})();
