"use strict";
// The playground: one training over a WebSocket. The form's values live in the URL (?lr=0.01&...),
// so a copied link opens the same setup.
nav("Playground");
const $ = id => document.getElementById(id);
let fields = {}, pts = null, last = null, hist = [], running = false, trainer = null, config = null;
let session = null;  // the config the server is training (its "ready" message)

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
  drawGrads($("grads"), last ? last.grads : [], last ? last.layers : []);
  if (last) drawUnits($("units"), last.units, last.unit_grid);
  stats(last);
}

function setRunning(on) {
  running = on;
  $("run").textContent = on ? "Pause" : (last && last.done ? (last.status === "diverged" ? "Diverged" : "Finished") : "Run");
  $("run").title = last && last.done ? "all steps taken: Reset to start again, or raise steps (a new setup starts from step 0)" : "";
  $("run").disabled = !!(last && last.done) && !on;
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
      history_reset(); last = null;
      $("legend").textContent = "";
      for (let c = 0; c < msg.classes; c++) $("legend").append(el("span", {}, el("i", {style: `background:${COLORS[c % 10]}`}), `class ${c}`));
      $("legend").append(el("span", {}, "filled: train point · ringed: test point · shading: predicted class (paler = less sure)"));
      pts.about = `${msg.train.length} train / ${msg.test.length} test points`;
    },
    frame(msg) {
      last = msg;
      if (!hist.length || hist[hist.length - 1].step < msg.step) hist.push({step: msg.step, m: msg.metrics});
      else if (hist[hist.length - 1].step > msg.step) hist = [{step: msg.step, m: msg.metrics}];
      if (msg.done) {
        setRunning(false);
        $("status").textContent = msg.status === "diverged" ? `diverged: ${msg.error}; the check stopped it at step ${msg.step}` :
          `finished all ${msg.step} steps (Reset starts again from the same initial weights)`;
      } else if (running) $("status").textContent = `training… step ${msg.step}`;
      else if (msg.step === 0) $("status").textContent = `ready (${pts.about}), at step 0: press Run, or Step for one step. ` +
        "Changing a setting starts again from step 0.";
      else $("status").textContent = `paused at step ${msg.step}`;
      window.lastLatency = msg.received - msg.computed;
      redraw();
    },
    saved(msg) {
      message(`saved as run ${msg.run} (${msg.steps} steps, test accuracy ${fmt(msg.final.test_acc)}): ` +
              `nnstudy show ${msg.run}; reproduce: nnstudy train --config ${msg.config_toml}`, true);
    },
    error(msg) {
      const rest = msg.status === 422 ? showError(fields, msg) : msg.message;
      if (rest) message(rest, false);
      if (msg.status === 422) $("status").textContent = "fix the parameter marked in red";
      setRunning(false);
    },
    closed() { $("status").textContent = "disconnected from the server (reload the page)"; setRunning(false); },
  });
}

async function apply() {
  greyIgnored(fields);
  const p = readFields(fields);
  const r = await checkConfig(p);
  const rest = showError(fields, r.error);
  message(rest || "", false);
  if (r.error) {
    $("status").textContent = "fix the parameter marked in red" + (pts ? "; the drawing shows the last valid setup" : " to start");
    $("run").disabled = $("step").disabled = $("save").disabled = $("reset").disabled = true;
    return;
  }
  $("step").disabled = $("save").disabled = $("reset").disabled = false;
  config = r.config;
  history.replaceState(null, "", "?" + toQuery(config, "", new URLSearchParams()).toString());
  setRunning(false);
  trainer.send({type: "config", config});
}

$("run").onclick = () => {
  if (running) { trainer.send({type: "pause"}); setRunning(false); }
  else { trainer.send({type: "run"}); setRunning(true); }
};
$("step").onclick = () => { trainer.send({type: "step", steps: 1}); setRunning(false); };
$("reset").onclick = () => { trainer.send({type: "reset"}); history_reset(); setRunning(false); };
$("save").onclick = () => { trainer.send({type: "save"}); };
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

(async () => {
  await loadDefaults();
  const onchange = () => apply();
  fields = Object.assign(buildFields($("f-data"), FORM.data, "", onchange), buildFields($("f-net"), FORM.net, "", onchange),
                         buildFields($("f-train"), FORM.train, "", onchange));
  const given = paramsFromURL("");
  if (given.dataset && given.dataset.startsWith("points:")) fields.dataset.input.append(el("option", {value: given.dataset}, "uploaded set"));
  writeFields(fields, given);
  stats(null); redraw();
  connect();
  apply();
})();
