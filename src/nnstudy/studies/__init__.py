"""Studies: one package per question of the week, found by looking in this folder.

A study is a folder `studies/<name>/`: its `__init__.py` holds the study's one descriptor, a
`Study` subclass registered with `@register_study` (name, title, one line of help, where the report
shows it and what the week claimed: `entries`) with `run(ctx) -> summary` that trains and records
(never draws); `figures.py` draws from the store only; `report.py` builds the report's `Section`
from the stored summary and is handed what it needs (the title), never importing its study.
`load_all` imports every package here, so adding a study is adding one folder. `run_study` records
the study itself as a run of kind "study" whose children are its training runs, so the report can
find the latest complete result of each study.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pkgutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields

from nnstudy.config import TrainConfig
from nnstudy.errors import UsageError
from nnstudy.registry import Registry
from nnstudy.store import Store, environment, git_commit
from nnstudy.threads import torch_threads

STUDIES = Registry("study")


@dataclass(frozen=True)
class Profile(Mapping):
    """A study's settings at one profile (quick, default, full): subclass it as a frozen dataclass
    with typed, commented fields. It reads as a read-only mapping too (p["steps"], {**p}), the form
    the studies' code and their stored `settings` use, so a profile stores exactly as its fields."""

    def __getitem__(self, key: str):
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return (f.name for f in fields(self))

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)


@dataclass(frozen=True)
class Part:
    """A part of the week's report; parts appear in the order of their numbers."""

    number: int
    heading: str


EXPERIMENT = Part(1, "The week's experiment")
TOPICS = Part(2, "What the week studied")  # in the order of the week's task list
QUESTIONS = Part(3, "The week's six questions")  # in the week's numbering
NEXT_WEEK = Part(4, "Next week")
OTHER = Part(99, "Other studies")  # where a study that declares no entry appears


@dataclass(frozen=True)
class Entry:
    """Where a study appears in the report, under which heading, quoting what the week wrote."""

    part: Part
    order: int  # position within the part (a question: its number in the week)
    heading: str  # the week's topic or question
    claim: str = ""  # what the week wrote, in English (quoted above the evidence)
    see: bool = False  # answered by this study's earlier entry: quote the week and link there


def register_study(cls):
    """Class decorator: register a study under its `name`, listed with its `help` line."""
    return STUDIES.register(cls.name, cls.help)(cls)


def position(cls) -> tuple:
    """Where a study sorts: its first entry's part and order (the report's reading order)."""
    first = next((e for e in cls.entries if not e.see), None)
    return (first.part.number, first.order, cls.name) if first else (OTHER.number, 0, cls.name)


def load_all() -> Registry:
    """Import every study package in this folder (each registers itself), ordered as the report
    reads them; `nnstudy list` and `nnstudy all` follow that order."""
    for info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        if info.ispkg:
            importlib.import_module(info.name)
    STUDIES.sort(key=position)
    return STUDIES


@dataclass
class StudyContext:
    study: str
    profile: str  # quick | default | full
    seeds: list[int]
    device: str
    store: Store
    run_id: str
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))

    def train(self, cfg: TrainConfig, name: str, **kw):
        """One training run recorded as a child of this study."""
        from nnstudy.experiment import train_and_evaluate

        return train_and_evaluate(cfg.replace(device=self.device), self.store, study=self.study,
                                  parent=self.run_id, name=name, **kw)

    def train_many(self, cfgs: list[TrainConfig], names: list[str]) -> list:
        """Several runs, recorded as children of this study, results in input order. Same-shaped
        configs are trained together as one batched computation where `nnstudy.batched` can."""
        try:
            from nnstudy.batched import train_many
        except ImportError:
            return [self.train(c, n) for c, n in zip(cfgs, names)]
        return train_many([c.replace(device=self.device) for c in cfgs], self.store, study=self.study,
                          parent=self.run_id, names=names)

    @property
    def folder(self):
        return self.store.run_dir(self.run_id)


@dataclass
class Section:
    """What a study contributes to the report, computed from its stored results only."""

    title: str  # the week's question or experiment
    paragraphs: list[str] = field(default_factory=list)  # sentences built from stored numbers
    tables: list[dict] = field(default_factory=list)  # {"caption", "columns": [...], "rows": [[...]]}
    figures: list = field(default_factory=list)  # image paths in the study's run folder
    references: list[dict] = field(default_factory=list)  # published values: {"source", "setup", "value"}
    # The section measures only part of what its entry names (Next week: Fashion-MNIST, not MNIST,
    # CIFAR-10 or VGG16 where their data or a GPU is absent): its badge says "partly measured", and a
    # paragraph says which part ran and what runs the rest.
    partial: bool = False
    # Code as it ran: {"caption", "note", "text"}, shown after the paragraphs as a transcript block
    # (the tensors study's tutorial, with the output this machine printed).
    listings: list[dict] = field(default_factory=list)


VERDICTS = ("supported", "partly supported", "not supported", "not settled at this budget")


@dataclass
class Answer:
    """A study's answer to the week's claim, for the report's answer sheet: chosen by rules
    (`nnstudy.verdicts`) from stored numbers, never written in advance."""

    verdict: str  # one of VERDICTS
    number: object  # the one deciding number (an evidence Part: mean ± spread or an interval, with n seeds)
    label: str  # what the number is, e.g. "ReLU minus linear, held-out accuracy"
    why: object = ""  # one short sentence (evidence Text) saying how the verdict follows
    figure: object = None  # a small figure's path, or None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r}: valid: {', '.join(VERDICTS)}")


class Study:
    name = ""  # registered name: `nnstudy run NAME`
    title = ""  # the week's question, or what the study shows (the section's title; stored in the summary)
    help = ""  # one line for `nnstudy list`
    entries: tuple[Entry, ...] = ()  # where the report shows it; none: under "Other studies"
    default_seeds = {"quick": 2, "default": 5, "full": 10}

    def run(self, ctx: StudyContext) -> dict:
        """Train and record; return the summary (JSON-able; "table": rows for the terminal)."""
        raise NotImplementedError

    def draw(self, store: Store, run: dict, folder) -> list:
        """Draw figures from the store into `folder`; return their paths."""
        return []

    def answer(self, store: Store, run: dict) -> Answer | None:
        """The answer sheet's line for this study's claim: `answer(store, run)` of the study's own
        report module (studies/<name>/report.py) where it defines one; None: no claim answered."""
        name = f"{type(self).__module__}.report"
        try:
            report = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name not in (name, type(self).__module__):  # a broken import inside report.py is a bug
                raise
            return None
        answer = getattr(report, "answer", None)
        return answer(store, run) if answer else None

    def section(self, store: Store, run: dict) -> Section:
        """The report's section: by default the summary's table and the run's figures."""
        rows = run["summary"].get("table", [])
        cols = list(rows[0]) if rows else []
        folder = store.run_dir(run["id"])
        return Section(self.title, tables=[{"caption": "", "columns": cols,
                                            "rows": [[r.get(c) for c in cols] for r in rows]}],
                       figures=sorted(folder.glob("*.png")))


def mean_std(values) -> dict:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": statistics.fmean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
            "n": len(vals)}


def train_test_gap(final: dict) -> float | None:
    """Train minus test accuracy (a fraction); None when either was not measured (an empty split)."""
    tr, te = final.get("train_acc"), final.get("test_acc")
    return None if tr is None or te is None else tr - te


def fmt_ms(d: dict, digits: int = 3) -> str:
    if not d or d.get("mean") is None:
        return "n/a"
    return f"{d['mean']:.{digits}f} ± {d['std']:.{digits}f}"


def train_over_seeds(ctx: StudyContext, variants: list[tuple[str, Callable[[int], TrainConfig]]]
                     ) -> tuple[list[dict], list[list]]:
    """Train every (name, make_cfg(seed)) variant once per seed in ctx.seeds, all in one
    ctx.train_many call (same-shaped configs batch). Returns one JSON-able row per variant (name,
    train/val/test accuracy mean ± std over the complete runs, diverged count, child run ids) and,
    in the same order, each variant's RunResults (one per seed)."""
    cfgs = [make(s) for _, make in variants for s in ctx.seeds]
    names = [f"{name} seed {s}" for name, _ in variants for s in ctx.seeds]
    flat = ctx.train_many(cfgs, names)
    k = len(ctx.seeds)
    results = [flat[i * k:(i + 1) * k] for i in range(len(variants))]
    rows = []
    for (name, _), runs in zip(variants, results):
        ok = [r for r in runs if r.status == "complete"]
        rows.append({"name": name, "train_acc": mean_std(r.final.get("train_acc") for r in ok),
                     "val_acc": mean_std(r.final.get("val_acc") for r in ok),
                     "test_acc": mean_std(r.final.get("test_acc") for r in ok),
                     "diverged": len(runs) - len(ok), "runs": [r.run_id for r in runs]})
    return rows, results


def study_digest(name: str, profile: str, seeds: list[int], device: str) -> str:
    """Same study, profile, seeds, device and code version -> same digest (`all` skips it)."""
    blob = json.dumps([name, profile, seeds, device, git_commit()]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def study_threads(device: str) -> int:
    """CPU threads for a study: NNSTUDY_THREADS if set, else 1 on the CPU (0: torch's default).

    Studies train many small models, where per-op overhead, not arithmetic, sets the speed, and on a
    loaded machine torch's default OpenMP threads wait on each other: a step on two threads can take
    many times one thread's (scratch timings in benchmarks/results/notes.md; benchmarks/batched.py times both)."""
    env = os.environ.get("NNSTUDY_THREADS")
    if env is not None:
        try:
            return max(0, int(env))
        except ValueError:
            raise UsageError(f"NNSTUDY_THREADS={env!r} is not a whole number of threads") from None
    from nnstudy.optim import resolve_device

    return 1 if resolve_device(device).type == "cpu" else 0


def run_study(name: str, store: Store, profile: str = "default", seeds: int | None = None,
              device: str = "cpu", log: Callable | None = None, skip_done: bool = False) -> dict:
    """Run one registered study and draw its figures; returns the stored study run row."""
    load_all()
    study = STUDIES.get(name)()
    if profile not in study.default_seeds:
        raise UsageError(f"profile={profile!r} is not valid; valid: {', '.join(study.default_seeds)}")
    if seeds is not None and seeds < 1:
        raise UsageError(f"--seeds {seeds}: need at least 1 seed")
    seed_list = list(range(seeds if seeds else study.default_seeds[profile]))
    digest = study_digest(name, profile, seed_list, device)
    commit = git_commit()
    if skip_done and commit and not commit.endswith("+dirty"):
        done = store.find_complete(digest)
        if done:
            return done
    config = {"study": name, "profile": profile, "seeds": seed_list, "device": device}
    threads = study_threads(device)
    with torch_threads(threads):  # the run's recorded environment names the threads it trains on
        run_id = store.create_run("study", config, study=name, name=name, seed=None, digest=digest, device=device)
    ctx = StudyContext(name, profile, seed_list, device, store, run_id)
    if log:
        ctx.log = log
    t0 = time.perf_counter()
    try:
        with torch_threads(threads):
            summary = study.run(ctx)
    except BaseException as e:
        store.finish(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise
    summary = {"title": study.title, "profile": profile, "seeds": seed_list,
               "seconds": round(time.perf_counter() - t0, 2), "env": environment(device), **summary}
    store.finish(run_id, "complete", summary)
    row = store.get(run_id)
    draw_study(study, store, row)
    return store.get(run_id)


def draw_study(study: Study, store: Store, row: dict) -> list:
    """Draw a study's figures into its run folder (Agg, files only)."""
    import matplotlib

    matplotlib.use("Agg")  # the CLI's choice; plots.py never switches a user's backend
    folder = store.run_dir(row["id"])
    paths = study.draw(store, row, folder)
    return [str(p) for p in paths]


def format_table(rows: list[dict]) -> str:
    """A plain text table from a list of dicts with the same keys."""
    if not rows:
        return "(no rows)"
    cols = list(rows[0])
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict) and "mean" in v:
        return fmt_ms(v)
    return "" if v is None else str(v)
