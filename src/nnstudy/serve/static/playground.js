"use strict";
// The playground: one training over a WebSocket. The form's values live in the URL (?lr=0.01&...),
// so a copied link opens the same setup.
nav("Playground");
const $ = id => document.getElementById(id);
let fields = {}, pts = null, last = null, hist = [], running = false, trainer = null, config = null;
let session = null;  // the config the server is training (its "ready" message)
let acked = false;  // the server has confirmed the setup on the page (its "ready" message): the buttons work
let edits = 0, sent = 0, answered = 0;  // setups edited, sent to the server, answered (ready, or refused)
let checking = 0;  // edits whose check is in flight: the server's answer to an older setup is not an ack

// What the gradient bars mean depends on the optimizer: SGD's step is lr x the gradient, Adam's and
// RMSprop's is rescaled per parameter (divided by a running size of that parameter's gradients).
const GRAD_NOTES = {
  sgd: "Left: the size of dLoss/dW for each layer's weights. With SGD (and momentum) the step is lr × the gradient, " +
       "so a layer whose gradient bar is far shorter learns far more slowly. Right: the update each layer " +
       "actually got, relative to its weights.",
  adaptive: "Left: the size of dLoss/dW for each layer's weights. {opt} rescales each parameter's step by a running " +
            "size of its own gradients, so a short gradient bar does not mean slow learning: the right-hand bars, " +
            "the update each layer actually got relative to its weights, say how fast it learns.",
};
const VANISHING = " Vanishing gradients: 5 sigmoid layers against 5 relu layers with SGD, Step by Step.";
const WEEK_LINEAR = {model: "linear", optimizer: "sgd"};  // the week's other net (lr and the rest as the defaults)

function history_reset() { hist = []; }

function stats(f) {
  const m = f ? f.metrics : {};
  $("stats").innerHTML = "";
  const cells = ["", "loss", "accuracy", "train", fmt(m.train_loss), fmt(m.train_acc), "test", fmt(m.test_loss), fmt(m.test_acc)];
  cells.forEach((c, i) => $("stats").append(el("div", {class: i < 3 || i % 3 === 0 ? "h" : "", id: i > 2 ? "s" + i : null}, c)));
  $("stats").append(el("div", {class: "h"}, "step"), el("div", {id: "step-n"}, f ? `${f.step} / ${f.total}` : "–"), el("div", {}, ""));
}

function redraw() {
  drawRegions($("regions"), last, pts);
  const xs = hist.map(h => h.step);
  const total = last ? last.total : 1;
  drawCurves($("loss"), [
    {label: "train loss", color: "#1d2330", xs, ys: hist.map(h => h.m.train_loss)},
    {label: "test loss", color: "#d55e00", dash: true, xs, ys: hist.map(h => h.m.test_loss)}], {title: "loss", zero: true, xmax: total});
  drawCurves($("acc"), [
    {label: "train accuracy", color: "#1d2330", xs, ys: hist.map(h => h.m.train_acc)},
    {label: "test accuracy", color: "#d55e00", dash: true, xs, ys: hist.map(h => h.m.test_acc)}], {title: "accuracy", lo: 0, hi: 1, xmax: total});
  drawGrads($("grads"), last ? last.grads : [], last ? last.updates : [], last ? last.layers : []);
  const opt = (session || {}).optimizer || "adam";
  $("grad-note").textContent = (opt === "sgd" ? GRAD_NOTES.sgd : GRAD_NOTES.adaptive.replace("{opt}", {adam: "Adam", adamw: "AdamW", rmsprop: "RMSprop"}[opt] || opt)) + VANISHING;
  if (last) drawUnits($("units"), last.units, last.unit_grid);
  $("units-note").style.display = last && last.units && last.units.length ? "" : "none";
  stats(last);
}

function setRunning(on) {
  running = on;
  $("run").textContent = on ? "Pause" : (last && last.done ? (last.status === "diverged" ? "Diverged" : "Finished") : "Run");
  $("run").title = last && last.done ? "all steps taken: Reset to start again, or raise steps (a new setup starts from step 0)" : "";
  $("run").disabled = !acked || (!!(last && last.done) && !on);
  $("step").disabled = $("reset").disabled = $("save").disabled = !acked;
}

function verdictText(f) {  // "loss rose (1.10 -> 2.98), accuracy at chance" and the like; "" when none
  return (f.verdict || []).map(v => v.short).join(", ");
}

function message(text, ok) {
  $("message").textContent = "";
  if (text) $("message").append(el("div", {class: "msg " + (ok ? "ok" : "bad")}, text));
}

function connect() {
  trainer = new Trainer({
    ready(msg) {
      pts = {train: msg.train, test: msg.test, classes: msg.classes, bounds: msg.bounds};
      session = msg.config;
      answered++;
      acked = answered === sent && checking === 0;  // not while a newer setup is on its way
      setRunning(false);
      history_reset(); last = null;
      legend(msg.classes);
      pts.about = `${msg.train.length} train / ${msg.test.length} test points`;
    },
    frame(msg) {
      last = msg;
      if (!hist.length || hist[hist.length - 1].step < msg.step) hist.push({step: msg.step, m: msg.metrics});
      else if (hist[hist.length - 1].step > msg.step) hist = [{step: msg.step, m: msg.metrics}];
      const bad = verdictText(msg);
      let text;
      if (msg.done) {
        setRunning(false);
        text = msg.status === "diverged" ? `diverged: ${msg.error}; the check stopped it at step ${msg.step}` :
          bad ? `finished all ${msg.step} steps, but: ${bad}` :
          `finished all ${msg.step} steps (Reset starts again from the same initial weights)`;
      } else if (running) text = `training… step ${msg.step}` + (bad ? ` — ${bad}` : "");
      else if (msg.step === 0) text = `ready (${pts.about}), at step 0: press Run, or Step for one step. ` +
        "Changing a setting starts again from step 0.";
      else text = `paused at step ${msg.step}` + (bad ? ` — ${bad}` : "");
      $("status").textContent = text;
      $("status").className = "note" + ((msg.done && msg.status === "diverged") || bad ? " warn" : "");
      $("status").title = (msg.verdict || []).map(v => `${v.code}: ${v.text}`).join("\n");
      window.lastLatency = msg.received - msg.computed;
      redraw();
    },
    saved(msg) {
      message(`saved as run ${msg.run} (${msg.steps} steps, test accuracy ${fmt(msg.final.test_acc)}): ` +
              `nnstudy show ${msg.run}; reproduce: nnstudy train --config ${msg.config_toml}` +
              (msg.warnings && msg.warnings.length ? `; stored with its warnings: ${msg.warnings.map(w => w.split(":")[0]).join(", ")}` : ""), true);
    },
    error(msg) {
      if ((msg.status === 422 || msg.status === 503) && answered < sent) answered++;
      const rest = msg.status === 422 ? showError(fields, msg) : msg.message;
      if (rest) message(rest, false);
      if (msg.status === 422) badField(msg);
      setRunning(false);
    },
    closed() { acked = false; $("status").textContent = "disconnected from the server (reload the page)"; setRunning(false); },
  });
}

function legend(classes) {
  $("legend").textContent = "";
  for (let c = 0; c < classes; c++) $("legend").append(el("span", {}, el("i", {style: `background:${COLORS[c % 10]}`}), `class ${c}`));
  $("legend").append(el("span", {}, "filled: train point · ringed: test point · shading: predicted class (paler = less sure)"));
}

// A bad parameter: the status line names it as the form does, and the form scrolls to it.
function badField(err) {
  const f = fields[err.field], label = f ? FORM_LABELS[err.field] : err.field;
  $("status").textContent = `fix “${label}” (marked in red): ${err.message}` +
    (acked ? "; the drawing shows the last valid setup" : "");
  $("status").className = "note warn";
  if (f) f.lab.scrollIntoView({block: "center", behavior: "instant"});
}

async function apply() {
  greyIgnored(fields);
  acked = false; setRunning(false);  // until the server confirms the new setup, no button acts on the old one
  const p = readFields(fields), mine = ++edits;
  checking++;
  let r;
  try { r = await checkConfig(p); } finally { checking--; }
  if (mine !== edits) return;  // a newer edit is being checked: it alone goes to the server
  const rest = showError(fields, r.error);
  message(rest || "", false);
  if (r.error) {
    badField(r.error);
    if (!pts) await drawDataOnly(p);
    return;
  }
  config = r.config;
  history.replaceState(null, "", "?" + toQuery(config, "", new URLSearchParams()).toString());
  $("status").textContent = "sending the setup to the server…"; $("status").className = "note";
  sent++;
  trainer.send({type: "config", config});
}

// The data alone (no model yet: a training field is invalid), so the page is not blank.
async function drawDataOnly(p) {
  const r = await fetch("/api/points", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(p)});
  if (!r.ok) return;
  const j = await r.json();
  pts = {...j, about: `${j.train.length} train / ${j.test.length} test points`};
  last = null; hist = [];
  legend(j.classes);
  redraw();
}

function preset(values) {
  writeFields(fields, values);
  apply();
}

$("run").onclick = () => {
  if (running) { trainer.send({type: "pause"}); setRunning(false); }
  else { trainer.send({type: "run"}); setRunning(true); }
};
$("step").onclick = () => { trainer.send({type: "step", steps: 1}); setRunning(false); };
$("reset").onclick = () => { trainer.send({type: "reset"}); history_reset(); setRunning(false); };
$("save").onclick = () => { trainer.send({type: "save"}); };
$("copy").onclick = async () => {
  try { await navigator.clipboard.writeText(location.href); message("link copied: it opens this setup", true); }
  catch (e) { message(`copy this address: ${location.href}`, true); }  // no clipboard (http on another host)
};
$("week-linear").onclick = () => preset(WEEK_LINEAR);
$("week-relu").onclick = () => preset({});
$("upload").onchange = async ev => {
  const file = ev.target.files[0];
  if (!file) return;
  $("upload-msg").textContent = "";
  const r = await fetch("/api/upload?filename=" + encodeURIComponent(file.name), {method: "POST", body: file});
  const j = await r.json();
  if (!r.ok) { $("upload-msg").append(el("div", {class: "msg bad"}, `${j.message || j.error}${j.valid ? "\nvalid: " + j.valid : ""}`)); return; }
  const sel = fields.dataset.input;
  if (![...sel.options].some(o => o.value === j.dataset)) sel.append(el("option", {value: j.dataset}, `uploaded (${j.points} points)`));
  sel.value = j.dataset;
  $("upload-msg").append(el("div", {class: "msg ok"}, `${j.points} points, ${j.classes} classes`));
  apply();
};

const FORM_LABELS = Object.fromEntries([...FORM.data, ...FORM.net, ...FORM.train].map(f => [f[0], f[1]]));

(async () => {
  await loadDefaults();
  const onchange = () => apply();
  fields = Object.assign(buildFields($("f-data"), FORM.data, "", onchange), buildFields($("f-net"), FORM.net, "", onchange),
                         buildFields($("f-train"), FORM.train, "", onchange));
  const given = paramsFromURL("");
  if (given.dataset && given.dataset.startsWith("points:")) fields.dataset.input.append(el("option", {value: given.dataset}, "uploaded set"));
  writeFields(fields, given);
  stats(null); setRunning(false); redraw();
  connect();
  apply();
})();
