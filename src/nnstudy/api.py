"""The Python API for notebooks and scripts: `import nnstudy as ns`, then

    ns.run("spiral", profile="quick")                       a study -> StudyRun (table, figures)
    ns.train(dataset="spiral", optimizer="adam", lr=1e-3)   one training run -> Run (model, records)
    ns.runs(study="spiral")                                  the store's runs -> Table
    ns.load(run_id)                                          a stored run -> Run or StudyRun
    ns.sweep(lr=[1e-3, 1e-2], seeds=[0, 1])                  a grid of runs -> SweepRun
    ns.report()                                              the HTML + Markdown report -> paths

Each function is the command of the same name: its keywords are the command's flags (`lr=1e-3` is
`--lr 1e-3`, `batch_norm=False` is `--no-batch-norm`, a list is a comma grid), read by the command
line's own parser and passed to the same library calls. So a call checks, trains and stores exactly
what the command does, and a bad argument raises `nnstudy.errors.UsageError` whose message is the
line the command prints after `nnstudy: error: `. (The parser's one difference: the command line
accepts a unique prefix of a flag, these keywords must be whole names.)

Logs go to stderr, as the command's do; stores default to $NNSTUDY_HOME or ./runs.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from nnstudy.errors import UsageError
from nnstudy.results import Run, StudyRun, SweepRun, Table

__all__ = ["run", "train", "runs", "load", "sweep", "report", "UsageError", "Run", "StudyRun", "SweepRun", "Table"]

PathLike = str | Path


def run(study: str, *, profile: str = "default", seeds: int | None = None, device: str = "auto",
        out: PathLike | None = None) -> StudyRun:
    """Run one study (`nnstudy run STUDY`): train and record its runs, draw its figures.

    profile: quick (seconds), default (a laptop CPU) or full (a GPU); seeds: how many (default: the
    profile's); device: auto, cpu, cuda or mps; out: the results store. Shown in Jupyter, the result
    is the study's table and figures."""
    from nnstudy.studies import run_study

    args = _parse("run", [study], profile=profile, seeds=seeds, device=device, out=out)
    store = _store(args.out)
    with _keep_backend():
        row = run_study(args.study, store, args.profile, args.seeds, args.device or "auto", log=_log)
    return StudyRun(store, row)


def train(*, recipe: str | None = None, profile: str = "default", config: PathLike | None = None,
          resume: str | None = None, figures: bool = True, out: PathLike | None = None, **fields) -> Run:
    """Train one model on one dataset (`nnstudy train`) and return the run with its trained model.

    fields: any TrainConfig field (`dataset="moons"`, `model="mlp"`, `optimizer="sgd"`, `lr=0.1`,
    `steps=500`, `seed=3`, ...); precedence as on the command line: recipe < config file < profile <
    fields. resume: a run id to continue from its checkpoint. figures: draw curves (and for image
    sets the confusion matrix, worst errors and filters) into the run's folder."""
    from nnstudy import cli
    from nnstudy.config import TrainConfig
    from nnstudy.experiment import train_and_evaluate

    args = _parse("train", [], recipe=recipe, profile=profile, config=config, resume=resume, figures=figures,
                  out=out, **fields)
    store = _store(args.out)
    if args.resume:
        stored = store.get(args.resume)
        cfg = TrainConfig.from_dict(stored["config"], where=f"run {stored['id']}")
    else:
        cfg = cli.train_config(args)
    name = f"{args.recipe or cfg.model} on {cfg.dataset}"
    res = train_and_evaluate(cfg, store, name=name, log=_log, resume=args.resume)
    with _keep_backend():
        drawn = cli.train_figures(store, res) if args.figures else []
    if res.status == "diverged":
        _log(f"nnstudy: {res.error}")
    for w in res.warnings:
        _log(f"nnstudy: warning: {w}")
    return Run(store, store.get(res.run_id), result=res, figures=[Path(p) for p in drawn])


def runs(*, study: str | None = None, kind: str | None = None, status: str | None = None,
         last: int | None = None, out: PathLike | None = None) -> Table:
    """The store's runs, newest last (`nnstudy runs`): iterate it for one dict a run (what
    `runs --json` prints); it shows as a table in Jupyter and as the command's text elsewhere."""
    from nnstudy import cli, console

    args = _parse("runs", [], study=study, kind=kind, status=status, last=last, out=out)
    listing = cli.runs_listing(args)
    cols = ["id", "kind", "status", "study", "name", "result", "seconds", "started"]
    cells = [[r["id"], r["kind"], console.status_cell(r), r["study"] or "-", r["name"] or "-", console.headline(r),
              console.seconds(r["seconds"]), console.when(r["started"], "%Y-%m-%d %H:%M")] for r in listing]
    return Table(listing, columns=cols, cells=cells, text=console.runs_table(listing))


def load(run_id: str, *, out: PathLike | None = None) -> Run | StudyRun:
    """A stored run by id or unique id prefix (what `nnstudy show RUN` reads): a training run as a
    Run (config, final numbers, records, figures; `.model` rebuilds the net with its final weights),
    a study run as a StudyRun (summary table, figures, child runs)."""
    from nnstudy.store import Store

    args = _parse("show", [run_id], out=out)
    store = Store(args.out, readonly=True)
    row = store.get(args.run)
    return StudyRun(store, row) if row["kind"] == "study" else Run(store, row)


def sweep(*, seeds=None, jobs: int = 1, engine: str = "local", address: str | None = None, name: str = "sweep",
          out: PathLike | None = None, **grids) -> SweepRun:
    """A grid of training runs (`nnstudy sweep`): each keyword a TrainConfig field and its values, as
    a list (`lr=[1e-3, 1e-2]`), one value, or the command line's grid text (`"1e-4:1e-1:4"`, `"0..7"`);
    seeds: the seeds' grid (`[0, 1, 2]` or `"0..2"`). Same-shaped configs train as one batched
    computation. engine="ray" (address: the cluster's head) sends the groups to Ray. Returns the
    summary: mean ± std over seeds per point of the grid, and the run ids."""
    from nnstudy import cli
    from nnstudy.sweep import grid_from_args, run_sweep

    args = _parse("sweep", [], seeds=seeds, jobs=jobs, engine=engine, address=address, name=name, out=out, **grids)
    cfgs = grid_from_args(args)
    store = cli.open_store(args)
    return SweepRun(store, run_sweep(cfgs, store.home, study=args.name, jobs=args.jobs, engine=args.engine,
                                     address=args.address, log=_log))


def report(*, out: PathLike | None = None, report_dir: PathLike | None = None) -> dict:
    """Rebuild the report from the store (`nnstudy report`): {"html": path, "markdown": path}."""
    from nnstudy.report import write_report
    from nnstudy.store import Store

    args = _parse("report", [], out=out, report_dir=report_dir)
    return write_report(Store(args.out, readonly=True), args.report_dir)


# -- the shared parser ------------------------------------------------------------------------------
def _parse(command: str, positional: list[str], **options):
    """Keywords -> the command's argv -> the command line's own parser: the same checks, defaults
    and messages. None means "not given"."""
    from nnstudy.cli import build_parser

    parser = build_parser()
    known = _dests(parser, command)
    argv = [command, *(str(p) for p in positional)]
    unknown = []
    for key, value in options.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if key not in known:
            unknown.append(f"{flag} {_text(value)}")
        elif isinstance(value, bool) and known[key] == "flag":
            argv.append(flag if value else "--no-" + flag[2:])
        elif value is True and known[key] == "store_true":
            argv.append(flag)
        elif value is not False or known[key] != "store_true":
            argv.append(f"{flag}={_text(value)}")  # '=': a value like -1 is never read as a flag
    if unknown:  # argparse's own words for it, as `nnstudy train --lrr 0.1` prints
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return parser.parse_args(argv)


def _dests(parser, command: str) -> dict[str, str]:
    """{dest: how it takes a value} for one subcommand's options."""
    import argparse

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    kinds = {}
    for a in sub._actions:
        if a.option_strings and a.dest != "help":
            kinds[a.dest] = ("flag" if isinstance(a, argparse.BooleanOptionalAction)
                             else "store_true" if isinstance(a, argparse._StoreTrueAction) else "value")
    kinds.pop("json", None)  # the API returns objects; --json is the command line's way to
    return kinds


def _text(value) -> str:
    """A keyword's value as the command line would spell it: lists as comma grids, floats exactly."""
    if isinstance(value, list | tuple | range):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _store(out):
    from nnstudy.store import Store

    return Store(out)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)  # sys.stderr looked up now: Jupyter replaces it per cell


@contextmanager
def _keep_backend():
    """Studies and `train` draw their files with Agg (`matplotlib.use("Agg")`); in a notebook that
    would leave the user's inline backend switched off, so the user's backend is put back. (Switching
    closes open figures, as the study's own switch to Agg does.)"""
    from nnstudy.progress import where

    if where() != "notebook":  # a script or terminal: files only, as the command line draws them
        yield
        return
    import matplotlib
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    plt.switch_backend(before)  # load it now: the inline backend hooks into Jupyter only when loaded as the current one
    try:
        yield
    finally:
        if matplotlib.get_backend() != before:
            matplotlib.use(before)
