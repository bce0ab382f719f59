"use strict";
// The store at a glance: the runs table (filters in the URL), one run's page, several runs' curves.
nav("Runs");
const $ = id => document.getElementById(id);
const ticked = new Map();  // run id -> its detail (curves)
let selected = null;  // the run whose detail is shown
const OVERLAY = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#333333"];

function when(t) { return t ? new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ") : ""; }

async function load() {
  const q = new URLSearchParams();
  for (const k of ["study", "kind", "status"]) if ($(k).value) q.set(k, $(k).value);
  history.replaceState(null, "", "?" + q.toString());
  const r = await fetch("/api/runs?" + q.toString());
  const j = await r.json();
  if (!r.ok) { $("message").textContent = j.message || j.error; return; }
  const sel = $("study"), keep = sel.value;
  sel.innerHTML = ""; sel.append(el("option", {value: ""}, "all"));
  for (const s of j.studies) sel.append(el("option", {value: s}, s));
  sel.value = keep;
  $("report").style.display = j.report ? "" : "none";
  const rows = $("rows"); rows.textContent = "";
  // a run the filter now hides leaves the detail and the overlay: what is shown is what is listed
  const listed = new Set(j.runs.map(r => r.id));
  if (selected && !listed.has(selected)) clearDetail();
  let dropped = false;
  for (const id of [...ticked.keys()]) if (!listed.has(id)) { ticked.delete(id); dropped = true; }
  if (dropped) overlay();
  if (!j.runs.length) rows.append(el("tr", {}, el("td", {colspan: 9, class: "note"}, "no runs match (nnstudy train, run or sweep make them; so does Save as run)")));
  for (const run of [...j.runs].reverse()) {
    const box = el("input", {type: "checkbox", title: "overlay its curves"});
    box.checked = ticked.has(run.id);
    box.onclick = async ev => { ev.stopPropagation(); if (box.checked) ticked.set(run.id, await detail(run.id)); else ticked.delete(run.id); overlay(); };
    const acc = run.kind === "study" ? (run.children ? `${run.children.complete}/${run.children.total} runs` : "") : fmt((run.final || {}).test_acc);
    const tr = el("tr", {"data-run": run.id}, el("td", {}, box), el("td", {class: "runid"}, run.id), el("td", {}, run.kind),
                  el("td", {}, run.status + (run.warnings && run.warnings.length ? " !" : "")), el("td", {}, run.study || ""),
                  el("td", {}, run.name || ""), el("td", {}, acc), el("td", {}, run.seconds === null ? "" : run.seconds.toFixed(1)),
                  el("td", {}, when(run.started)));
    if (run.id === selected) tr.classList.add("sel");
    tr.onclick = () => { for (const t of rows.children) t.classList.remove("sel"); tr.classList.add("sel"); show(run.id); };
    rows.append(tr);
  }
}

async function detail(id) {
  const r = await fetch("/api/runs/" + encodeURIComponent(id));
  return r.json();
}

function clearDetail() {
  selected = null;
  $("detail").textContent = "";
  $("detail").append(el("h3", {}, "Run"), el("div", {class: "note"}, "no run selected"));
}

async function show(id) {
  selected = id;
  const d = await detail(id), box = $("detail");
  box.textContent = "";
  box.append(el("h3", {}, "Run ", el("span", {class: "runid"}, d.id)));  // as stored: `nnstudy show ID` takes it
  if (d.playground !== null && d.playground !== undefined) {
    box.append(el("div", {}, el("a", {href: d.playground, class: "open-playground"}, "open in Playground"),
                  el("span", {class: "note"}, " (its setup, from step 0)")));
  }
  const final = (d.summary || {}).final || {};
  box.append(el("div", {}, `${d.kind} · ${d.status} · ${d.name || d.study || ""}`));
  if (d.error) box.append(el("div", {class: "msg bad"}, d.error));
  for (const w of (d.summary || {}).warnings || []) box.append(el("div", {class: "msg bad"}, w));
  const st = el("div", {class: "stats"});
  for (const c of ["", "loss", "accuracy", ...["train", "val", "test"].filter(s => (s + "_loss") in final).flatMap(s => [s, fmt(final[s + "_loss"]), fmt(final[s + "_acc"])])]) st.append(el("div", {}, c));
  box.append(st);
  const c1 = el("canvas", {width: 600, height: 180});
  box.append(c1);
  drawCurves(c1, curveSeries([d], "acc"), {title: "accuracy", lo: 0, hi: 1});
  const changed = Object.entries(d.config_changed || {}).filter(([k]) => k !== "extra");
  box.append(el("h3", {}, "config (fields off nnstudy train's defaults)"),
             el("div", {class: "note"}, "compared with TrainConfig's defaults (what nnstudy train uses unless told); the playground starts from weight decay 1e-5, so its runs list that"),
             el("pre", {}, changed.length ? changed.map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n") : "(all at their defaults)"));
  if (d.kind === "train") {
    const link = el("a", {href: `/api/runs/${encodeURIComponent(d.id)}/config.toml`}, "config.toml");
    box.append(el("div", {class: "note"}, "reproduce it: download ", link, ", then ", el("code", {}, `nnstudy train --config ${d.id}.toml`)));
  }
  const figs = el("div", {class: "figs"});
  for (const f of d.figures || []) figs.append(el("div", {class: "note"}, f), el("img", {src: `/api/runs/${encodeURIComponent(d.id)}/figures/${encodeURIComponent(f)}`, alt: f, loading: "lazy"}));
  box.append(figs);
}

function curveSeries(details, metric) {
  const out = [];
  details.forEach((d, i) => {
    for (const split of ["train", "val", "test"]) {
      const c = (d.curves || {})[`${split}_${metric}`];
      if (!c) continue;
      out.push({label: `${d.id.slice(-6)} ${split}`, color: OVERLAY[i % OVERLAY.length], dash: split !== "train", xs: c[0], ys: c[1]});
    }
  });
  return out;
}

function overlay() {
  const ds = [...ticked.values()];
  drawCurves($("ov-acc"), curveSeries(ds, "acc"), {title: "accuracy", lo: 0, hi: 1});
  drawCurves($("ov-loss"), curveSeries(ds, "loss"), {title: "loss", zero: true});
}

(async () => {
  const q = new URLSearchParams(location.search);
  for (const k of ["kind", "status"]) if (q.get(k)) $(k).value = q.get(k);
  if (q.get("study")) { $("study").append(el("option", {value: q.get("study")}, q.get("study"))); $("study").value = q.get("study"); }
  for (const k of ["study", "kind", "status"]) $(k).onchange = load;
  overlay();
  await load();
})();
