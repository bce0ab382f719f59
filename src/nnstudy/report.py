"""The store -> the week's report: one self-contained HTML file and a Markdown twin.

The report never trains: for each entry of the week's outline it takes the latest complete run
of the study that answers it and asks the study for its `Section` (sentences built with
`nnstudy.evidence`, tables, figures, published values). Where the store has no complete run the
entry says so and names the command that produces it.

Order, following the week's report (seed/weekly-report.txt):
  1. the week's experiment: the spiral (2.2);
  2. what the week studied, in the order of its task list: neuron -> perceptron, backpropagation,
     vanishing gradients, autoencoders, greedy layer-wise pretraining;
  3. the six questions in the week's numbering: Q1 AlexNet vs LeNet, Q2 activations, Q3 vanishing
     gradients (answered by the study of part 2: the entry quotes the week and links there rather
     than repeating it), Q4 wide vs deep, Q5 softmax, Q6 SGD vs Adam;
  4. next week's plan (image baselines), then any registered study the outline does not name.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from nnstudy.evidence import md_esc, render_md
from nnstudy.store import Store, atomic_write


@dataclass(frozen=True)
class Entry:
    study: str  # registered study name
    heading: str
    claim: str = ""  # what the week wrote, in English
    see: bool = False  # the study is reported in an earlier entry: quote the week, link there


PARTS: list[tuple[str, list[Entry]]] = [
    ("The week's experiment", [
        Entry("spiral", "Spiral classification: a linear net vs a ReLU net",
              "A linear model (trained with SGD) and a model with a ReLU activation (trained with Adam) "
              "were built and compared: \u201cafter adding the ReLU activation to the two-layer network, "
              "classification accuracy improved markedly.\u201d")]),
    ("What the week studied", [
        Entry("perceptron", "From the biological neuron to the single-layer perceptron"),
        Entry("backprop", "Multi-layer perceptrons and backpropagation"),
        Entry("vanishing", "Vanishing gradients",
              "\u201cDuring backpropagation the gradient shrinks layer by layer until it is very small, so the "
              "parameters cannot be updated effectively and training slows down or stalls.\u201d"),
        Entry("autoencoder", "Autoencoders"),
        Entry("pretraining", "From neural networks to deep learning: greedy layer-wise pretraining")]),
    ("The week's six questions", [
        Entry("lenet-alexnet", "Q1. What are AlexNet's features, and why does it beat LeNet?",
              "\u201cAlexNet is deeper; it uses ReLU, which is cheaper and makes the model easier to train "
              "under different initialisations; it uses dropout against overfitting.\u201d"),
        Entry("activations", "Q2. What do activation functions do?",
              "\u201cThey introduce non-linearity, control the output range, provide the gradient signal, "
              "speed up convergence and increase the network's expressive power.\u201d"),
        Entry("vanishing", "Q3. What is the vanishing-gradient phenomenon?",
              "\u201cIn training, especially in backpropagation, the gradient gets smaller from layer to "
              "layer until it is tiny, so parameters cannot be updated and training slows or stalls.\u201d",
              see=True),
        Entry("width-depth", "Q4. Is a wider or a deeper network better?",
              "\u201cIt depends on the task. Deeper: more levels of features, better on large data sets, "
              "but harder to train (vanishing or exploding gradients) and costlier. Wider: more features in "
              "shallow layers, but redundant neurons and overfitting on small data.\u201d"),
        Entry("softmax", "Q5. Why use softmax?",
              "\u201cIt turns raw outputs into a probability distribution, pairs with cross-entropy to "
              "simplify the loss, supports many classes and improves the model's decisions.\u201d"),
        Entry("optimizers", "Q6. Which is more effective, SGD or Adam?",
              "\u201cSGD suits settings that need global convergence and little memory; Adam suits the "
              "complex optimisation of deep learning, usually converging faster and doing better on "
              "complex models.\u201d")]),
    ("Next week", [
        Entry("images", "CNNs on MNIST and CIFAR-10, VGG16 on CIFAR-10",
              "Plan: learn the basic structure of CNNs and typical networks; classify MNIST and CIFAR-10; "
              "VGG16 on CIFAR-10.")]),
]


@dataclass
class Block:
    """One outline entry resolved against the store."""

    entry: Entry
    anchor: str  # HTML id of this block
    status: str  # ok | missing | unregistered | error | see
    run: dict | None = None
    section: object = None  # studies.Section
    note: str = ""  # e.g. a newer run that did not complete
    link: tuple = ()  # "see" entries: (anchor, heading) of the block that reports the study
    error: str = ""
    figures: list = field(default_factory=list)  # [(path, caption)]
    references: list = field(default_factory=list)


def outline(registered: list[str]) -> list[tuple[str, list[Entry]]]:
    """PARTS, plus every registered study the outline does not name (none is dropped)."""
    named = {e.study for _, entries in PARTS for e in entries}
    extra = [Entry(n, n) for n in registered if n not in named]
    return PARTS + ([("Other studies", extra)] if extra else [])


def resolve(store: Store, entry: Entry, studies, anchors: dict) -> Block:
    from nnstudy.references import for_study

    anchor = f"q-{entry.study}" if entry.see else f"study-{entry.study}"
    if entry.see:
        return Block(entry, anchor, "see", link=anchors.get(entry.study, ("", entry.study)))
    anchors[entry.study] = (anchor, entry.heading)
    if entry.study not in studies:
        return Block(entry, anchor, "unregistered")
    history = store.runs(study=entry.study, kind="study")
    run = store.latest(entry.study)
    note = ""
    if history and (run is None or history[-1]["id"] != run["id"]):
        last = history[-1]
        note = f"The newest run of this study, {last['id']}, is {last['status']}"
        note += "; this section shows the latest complete one." if run else "."
    if run is None:
        return Block(entry, anchor, "missing", note=note)
    try:
        section = studies.get(entry.study)().section(store, run)
    except Exception as e:  # one study's bug must not cost the whole report: show it, loudly
        print(f"nnstudy report: {entry.study}.section() failed: {type(e).__name__}: {e}", file=sys.stderr)
        return Block(entry, anchor, "error", run=run, note=note, error=f"{type(e).__name__}: {e}")
    figures = [f if isinstance(f, tuple) else (f, "") for f in section.figures]
    refs = section.references or for_study(entry.study)
    return Block(entry, anchor, "ok", run, section, note, figures=figures, references=refs)


def collect(store: Store) -> list[tuple[str, list[Block]]]:
    from nnstudy.studies import load_all

    studies = load_all()
    anchors: dict = {}
    return [(title, [resolve(store, e, studies, anchors) for e in entries])
            for title, entries in outline(studies.names())]


def when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def provenance(store: Store, parts) -> dict:
    """How the report was made, from the stored runs' config, env and summary only."""
    runs = [b.run for _, blocks in parts for b in blocks if b.run]
    envs = [r["summary"].get("env") or r["env"] for r in runs]

    def distinct(values) -> str:
        vals = list(dict.fromkeys(str(v) for v in values if v not in (None, "")))
        return ", ".join(vals) if vals else "-"

    rows = [{"study": r["study"], "run": r["id"], "name": r.get("name") or "",
             "profile": r["config"].get("profile", "-"),
             "seeds": ",".join(str(s) for s in r["config"].get("seeds", [])) or "-",
             "device": e.get("device", r["config"].get("device", "-")), "started": when(r["started"]),
             "finished": when(r["finished"]), "seconds": r["summary"].get("seconds", "-"),
             "commit": e.get("git") or "-", "warned runs": warned(store, r["id"])} for r, e in zip(runs, envs)]
    facts = [("Built", when(time.time())), ("Store", str(store.home.resolve())),
             ("Profile(s)", distinct(r["profile"] for r in rows)), ("Seeds", distinct(r["seeds"] for r in rows)),
             ("Device(s)", distinct(r["device"] for r in rows)),
             ("Python", distinct(e.get("python") for e in envs)), ("torch", distinct(e.get("torch") for e in envs)),
             ("numpy", distinct(e.get("numpy") for e in envs)), ("nnstudy", distinct(e.get("nnstudy") for e in envs)),
             ("Git commit(s)", distinct(e.get("git") for e in envs)),
             ("Machine", distinct(f"{e.get('platform')}, {e.get('cpus')} CPUs, {e.get('threads')} threads"
                                  + (f", {e['gpu']}" if e.get("gpu") else "") for e in envs))]
    n_studies = sum(1 for _, blocks in parts for b in blocks if b.status != "see")
    return {"facts": facts, "runs": rows, "complete": len(runs), "studies": n_studies}


def warned(store: Store, study_run: str) -> str:
    """How many of a study's training runs ended complete with warnings (loss-rose, at-chance:
    experiment.learning_warnings), e.g. "2 of 24: at-chance"; "-" when none did. Some are meant
    (the vanishing study's depth-10 sigmoid nets stay at chance); the reader should know which."""
    children = store.runs(parent=study_run)
    codes = [w.split(":")[0] for c in children for w in c["summary"].get("warnings", [])]
    n = sum(1 for c in children if c["summary"].get("warnings"))
    return f"{n} of {len(children)}: {', '.join(dict.fromkeys(codes))}" if n else "-"


def command(study: str) -> str:
    return f"nnstudy run {study}"


def missing_text(b: Block) -> str:
    if b.status == "unregistered":
        return (f"No study named {b.entry.study!r} is registered in this version of nnstudy yet; once it is, "
                f"`{command(b.entry.study)}` produces this section.")
    if b.status == "error":
        return f"The study's section could not be built from run {b.run['id']}: {b.error}"
    return f"No complete run of this study in the store. `{command(b.entry.study)}` produces it."


# -- Markdown -------------------------------------------------------------------------------------
def md_table(columns, rows) -> list[str]:
    out = ["| " + " | ".join(md_esc(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    return out + ["| " + " | ".join(render_md(c) for c in row) + " |" for row in rows]


def md_block(b: Block, fig_dir: Path) -> list[str]:
    out = [f"### {md_esc(b.entry.heading)}", ""]
    if b.entry.claim:
        out += [f"> The week: {md_esc(b.entry.claim)}", ""]
    if b.status == "see":
        return out + [f"Answered by the section \u201c{md_esc(b.link[1])}\u201d above.", ""]
    if b.note:
        out += [f"*{md_esc(b.note)}*", ""]
    if b.status != "ok":
        return out + [md_esc(missing_text(b)), ""]
    s = b.section
    out += [f"**{md_esc(s.title)}** (run `{md_esc(b.run['id'])}`)", ""]
    for p in s.paragraphs:
        out += [render_md(p), ""]
    for t in s.tables:
        out += ([f"*{md_esc(t['caption'])}*", ""] if t.get("caption") else []) + md_table(t["columns"], t["rows"])
        out.append("")
    for i, (path, caption) in enumerate(b.figures):
        path = Path(path)
        if path.is_file():
            dest = fig_dir / f"{b.entry.study}-{i}-{path.name}"
            shutil.copyfile(path, dest)
            out += [f"![{md_esc(caption or path.stem)}](figures/{quote(dest.name)})", ""]
        else:
            out += [f"*(figure missing: {md_esc(path.name)})*", ""]
    if b.references:
        out += ["Published values (not ours; labelled by source):", ""]
        out += md_table(["source", "setup", "value", "metric"],
                        [[r.get("source"), r.get("setup"), r.get("value"), r.get("metric", "")] for r in b.references])
        out.append("")
    return out


def markdown(meta: dict, parts, fig_dir: Path) -> str:
    out = ["# The week, regenerated from evidence", "",
           f"{meta['complete']} of the {meta['studies']} studies of the outline have a complete run in this store.", ""]
    out += md_table(["", ""], [[k, v] for k, v in meta["facts"]]) + [""]
    if meta["runs"]:
        cols = list(meta["runs"][0])
        out += md_table(cols, [[r[c] for c in cols] for r in meta["runs"]]) + [""]
    for title, blocks in parts:
        out += [f"## {md_esc(title)}", ""]
        for b in blocks:
            out += md_block(b, fig_dir)
    return "\n".join(out) + "\n"


def write_report(store: Store, out_dir=None) -> dict:
    """Write report.html (self-contained) and report.md (+ figures/) into `out_dir`
    (default: STORE/report); returns {"html": path, "markdown": path}."""
    from nnstudy.report_html import render

    out = Path(out_dir) if out_dir else store.home / "report"
    fig_dir = out / "figures"
    # Never delete here: --report-dir may name a user's own folder. Same names are overwritten.
    fig_dir.mkdir(parents=True, exist_ok=True)
    parts = collect(store)
    meta = provenance(store, parts)
    paths = {"html": out / "report.html", "markdown": out / "report.md"}
    atomic_write(paths["html"], render(meta, parts))
    atomic_write(paths["markdown"], markdown(meta, parts, fig_dir))
    return {k: str(v) for k, v in paths.items()}


__all__ = ["write_report", "PARTS", "Entry", "collect", "provenance"]
