"""The report's document model: the week's outline resolved against the store, renderer-free.

The report never trains: for each entry of the week's outline it takes the latest complete run
of the study that answers it and asks the study for its `Section` (sentences built with
`nnstudy.evidence`, tables, figures, published values). Where the store has no complete run the
entry says so and names the command that produces it.

The outline follows the week's report (seed/weekly-report.txt) and is declared by the studies
themselves: each study's `entries` name its part, its place in the part, its heading and the
week's claim (`nnstudy.studies.Entry`). A study answering a second question declares a `see`
entry (Q3, vanishing gradients: the entry quotes the week and links to the study's section rather
than repeating it). A study that declares no entry appears under "Other studies". The HTML and
Markdown renderers (`html.py`, `markdown.py`) read only what this module builds: the parts with
their `Block`s, and `provenance`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from nnstudy.store import Store
from nnstudy.studies import EXPERIMENT, OTHER, QUESTIONS, Entry, load_all


@dataclass
class Block:
    """One outline entry resolved against the store."""

    study: str  # registered study name
    entry: Entry
    anchor: str  # HTML id of this block
    status: str  # ok | missing | error | see
    run: dict | None = None
    section: object = None  # studies.Section
    note: str = ""  # e.g. a newer run that did not complete
    link: tuple = ()  # "see" entries: (anchor, heading) of the block that reports the study
    error: str = ""
    figures: list = field(default_factory=list)  # [(path, caption, number)]: numbered through the report
    references: list = field(default_factory=list)
    answer: object = None  # studies.Answer shown at the top of the block (set by answer_sheet)
    budget: str = ""  # one line: what the study's runs trained on, for how long, over which seeds, in what time
    tables: list = field(default_factory=list)  # the section's tables shown in place
    appendix: list = field(default_factory=list)  # its long tables: (anchor, table), shown at the end, collapsed


LONG_TABLE = 15  # rows: a longer table (a 60-row gradient check, a settings grid) interrupts the reading;
# it moves to the report's appendix, collapsed, and its section names and links it where it stood.


def split_tables(study: str, tables: list) -> tuple[list, list]:
    """(shown in place, moved to the appendix as (anchor, table)) for a section's tables."""
    short_, long_ = [], []
    for t in tables:
        if len(t["rows"]) > LONG_TABLE:
            long_.append((f"appendix-{study}-{len(long_)}", t))
        else:
            short_.append(t)
    return short_, long_


def outline(studies) -> list[tuple[str, list[tuple[str, Entry]]]]:
    """The parts in order, each with its (study, entry) pairs in order; a study that declares no
    entry is listed under "Other studies" (none is dropped)."""
    parts: dict = {}
    for name in studies.names():
        for e in studies.get(name).entries or (Entry(OTHER, 0, name),):
            parts.setdefault(e.part, []).append((name, e))
    return [(part.heading, sorted(parts[part], key=lambda pair: pair[1].order))
            for part in sorted(parts, key=lambda part: part.number)]


def resolve(store: Store, study: str, entry: Entry, studies, anchors: dict) -> Block:
    from nnstudy.references import for_study

    anchor = f"q-{study}" if entry.see else f"study-{study}"
    if entry.see:
        return Block(study, entry, anchor, "see", link=anchors.get(study, ("", study)))
    anchors[study] = (anchor, entry.heading)
    history = store.runs(study=study, kind="study")
    run = store.latest(study)
    note = ""
    if history and (run is None or history[-1]["id"] != run["id"]):
        last = history[-1]
        note = f"The newest run of this study, {last['id']}, is {last['status']}"
        note += "; this section shows the latest complete one." if run else "."
    if run is None:
        return Block(study, entry, anchor, "missing", note=note)
    try:
        section = studies.get(study)().section(store, run)
    except Exception as e:  # one study's bug must not cost the whole report: show it, loudly
        print(f"nnstudy report: {study}.section() failed: {type(e).__name__}: {e}", file=sys.stderr)
        return Block(study, entry, anchor, "error", run=run, note=note, error=f"{type(e).__name__}: {e}")
    figures = [f if isinstance(f, tuple) else (f, "") for f in section.figures]
    refs = section.references or for_study(study)
    if len(refs) > LONG_TABLE:  # a long list of published values moves with the other long tables
        cols = ["source", "setup", "value", "metric"]
        section.tables = [*section.tables, {"caption": "Published values, labelled by source (not measured here)",
                                            "columns": cols, "rows": [[r.get(c, "") for c in cols] for r in refs]}]
        refs = []
    tables, appendix = split_tables(study, section.tables)
    return Block(study, entry, anchor, "ok", run, section, note, figures=figures, references=refs, tables=tables,
                 appendix=appendix, budget=budget_line(store, run))


def span(values, fmt=",d") -> str:
    """'1,000' or '960-1,200' (en dash) for a set of numbers."""
    vals = sorted(set(values))
    return format(vals[0], fmt) if len(vals) == 1 else f"{format(vals[0], fmt)}\u2013{format(vals[-1], fmt)}"


def budget_line(store: Store, run: dict) -> str:
    """The study's budget in one line, from its stored training runs: how many, over which seeds, per
    data set the training examples and the steps (epochs where the config counts them), and the
    study's wall time on the machine it ran on. A study whose measurements are not training runs
    (a gradient check, a float32 table) says only its seeds and time."""
    kids = [k for k in store.runs(parent=run["id"]) if k["summary"].get("steps")]
    seeds = run["config"].get("seeds") or []
    parts = [f"{len(kids)} training run{'s' * (len(kids) != 1)}" if kids else "no training runs of its own",
             f"{len(seeds)} seed{'s' * (len(seeds) != 1)} ({', '.join(str(x) for x in seeds)})" if seeds else ""]
    by_set: dict = {}
    for k in kids:
        by_set.setdefault(k["summary"].get("dataset") or k["config"].get("dataset"), []).append(k)
    for name, ks in by_set.items():
        n = [k["summary"]["n_train"] for k in ks if k["summary"].get("n_train")]
        epochs = [k["config"]["epochs"] for k in ks if k["config"].get("epochs")]
        what = f"{name}: {span(n)} training examples, " if n else f"{name}: "
        what += f"{span(k['summary']['steps'] for k in ks)} steps"
        parts.append(what + (f" ({span(epochs)} epoch{'s' * (max(epochs) != 1)})" if epochs else ""))
    env = run["summary"].get("env") or run.get("env") or {}
    secs = run["summary"].get("seconds")
    if secs is not None:
        parts.append(f"{secs:,.0f} s wall on {env.get('cpu') or 'this machine'}"
                     + (f" ({env['cpus']} CPUs)" if env.get("cpus") else ""))
    return "Budget: " + " \u00b7 ".join(p for p in parts if p) + "."


def collect(store: Store) -> list[tuple[str, list[Block]]]:
    studies = load_all()
    anchors: dict = {}
    parts = [(title, [resolve(store, study, e, studies, anchors) for study, e in entries])
             for title, entries in outline(studies)]
    n = 0  # figures are numbered through the report, so a section's text can point at each one
    for _, blocks in parts:
        for b in blocks:
            b.figures = [(path, caption, n := n + 1) for path, caption in b.figures]
    return parts


def figure_pointer(b: Block) -> str:
    """The sentence that refers the reader to a section's figures: "Figures 3-5 below: decision
    regions ...; ..." (their captions' first clauses), so no figure stands unmentioned."""
    if not b.figures:
        return ""
    nums = [n for _, _, n in b.figures]
    which = f"Figure {nums[0]}" if len(nums) == 1 else f"Figures {nums[0]}\u2013{nums[-1]}"
    gist = "; ".join(f"({n}) {first_clause(c)}" for _, c, n in b.figures if c)
    return f"{which} below: {gist}." if gist else f"{which} below."


def first_clause(caption: str, limit: int = 70) -> str:
    """A caption's first sentence, cut at a word boundary past `limit` characters."""
    head = caption.split(". ")[0].rstrip(".")
    return head if len(head) <= limit else head[:limit].rsplit(" ", 1)[0] + " \u2026"


@dataclass
class Line:
    """One line of the answer sheet: a question or experiment of the week and its answer."""

    heading: str
    claim: str  # the week's claim, shortened
    anchor: str  # the section that holds the evidence
    answer: object = None  # studies.Answer, or None: no rule-based verdict (yet)
    why_none: str = ""  # said instead of a verdict when answer is None


def short(claim: str, limit: int = 120) -> str:
    """The claim, cut at a word boundary past `limit` characters (the section quotes it whole). A claim
    that describes and then quotes the week ("... were compared: “after adding ...”") is shortened
    to its quote: the week's own words are the claim being judged."""
    quote = claim.find("\u201c")
    if quote > 0:
        claim = claim[quote:]
    return claim if len(claim) <= limit else claim[:limit].rsplit(" ", 1)[0] + " \u2026"


def answer_sheet(store: Store, parts) -> list[Line]:
    """For the week's experiment and each of its questions: the claim, and the study's Answer
    (Study.answer: a rule-chosen verdict with its deciding number). The sheet knows no study."""
    studies, lines = load_all(), []
    keep = {EXPERIMENT.heading, QUESTIONS.heading}
    blocks = {b.study: b for _, bs in parts for b in bs if b.status != "see"}
    for title, bs in parts:
        for b in bs if title in keep else ():
            target = blocks.get(b.study, b)
            line = Line(b.entry.heading, short(b.entry.claim) if b.entry.claim else "", target.anchor)
            if target.status != "ok":
                line.why_none = "no complete run in this store: " + command(b.study)
            else:
                try:
                    line.answer = studies.get(b.study)().answer(store, target.run)
                except Exception as e:  # like a section: one study's bug costs its line, not the sheet
                    line.why_none = f"the answer could not be computed: {type(e).__name__}: {e}"
                if line.answer is None and not line.why_none:
                    line.why_none = "not yet judged by the verdict rules: its section gives the numbers"
            b.answer = line.answer  # the entry that asks the question states its answer and why (a "see" entry too)
            lines.append(line)
    return lines


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
    if b.status == "error":
        return f"The study's section could not be built from run {b.run['id']}: {b.error}"
    return f"No complete run of this study in the store. `{command(b.study)}` produces it."
