"""`nnstudy sweep`: a grid over TrainConfig fields -> configs -> groups -> runs in the store.

Every TrainConfig field takes a grid (`--FIELD GRID`); `--seeds` is sugar for `--seed`:

    1e-3,1e-2,0.1    a comma list
    0..31            integers a to b, both included (numeric fields)
    1e-4:1e-1:4      4 points spaced evenly in log from 1e-4 to 1e-1, both ends included (numeric
                     fields; rounded to 12 significant digits, integer fields to whole numbers)
    adam             one value

Items combine (`--lr 1e-4:1e-2:3,0.5`). The Cartesian product of all grids gives the configs, each
validated by TrainConfig (a bad value is one clear line, exit 2), at most MAX_RUNS of them. Image
sets without a --batch-size grid train in mini-batches of recipes.IMAGE_BATCH, as `nnstudy train`
does. Configs that differ only in
batched.BATCH_FIELDS (seed, data_seed, lr, weight_decay, momentum) train as one batched group;
each group (or solo config) is a task, run on an engine (engines.py): one after another in this
process, side by side in `--jobs N` worker processes, or on a Ray cluster (`--engine ray`). Tasks
return what they recorded and this process writes the store (relay.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import itertools
import math
import sys
import time

from nnstudy.config import TrainConfig
from nnstudy.errors import UsageError
from nnstudy.recipes import image_batch_default

FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig) if f.name != "extra"}
MAX_RUNS = 100_000  # configs in one sweep: a typo like 0..1000000000 is refused before it fills memory


def field_type(name: str) -> type:
    if name not in FIELDS:
        close = difflib.get_close_matches(name, FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"sweep: unknown field {name!r}{hint}; valid: {', '.join(FIELDS)}")
    return type(FIELDS[name].default)


def parse_values(name: str, text: str) -> list:
    """One field's grid -> its values (strings for TrainConfig to convert and check)."""
    kind = field_type(name)
    numeric = kind in (int, float)
    flag = "--" + name.replace("_", "-")
    out: list = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            raise UsageError(f"sweep: {flag} {text!r} has an empty value; write values separated by commas")
        if numeric and ".." in item:
            out += _int_range(flag, item)
        elif numeric and item.count(":") == 2:
            out += _log_range(flag, item, kind)
        else:
            out.append(item)
    return out


def _int_range(flag: str, item: str) -> list[int]:
    a, _, b = item.partition("..")
    try:
        lo, hi = int(a), int(b)
    except ValueError:
        raise UsageError(f"sweep: {flag} {item!r}: a range a..b needs two integers, e.g. 0..31") from None
    if hi < lo:
        raise UsageError(f"sweep: {flag} {item!r} is an empty range; a..b needs a <= b")
    if hi - lo >= MAX_RUNS:
        raise UsageError(f"sweep: {flag} {item!r} holds {hi - lo + 1} values; a sweep runs at most {MAX_RUNS:,}")
    return list(range(lo, hi + 1))


def _log_range(flag: str, item: str, kind: type) -> list:
    parts = item.split(":")
    try:
        lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise UsageError(f"sweep: {flag} {item!r}: a log range is LO:HI:N, e.g. 1e-4:1e-1:4") from None
    if n < 1:
        raise UsageError(f"sweep: {flag} {item!r} is an empty range; N must be at least 1")
    if n > MAX_RUNS:
        raise UsageError(f"sweep: {flag} {item!r}: N={n:,} points; a sweep runs at most {MAX_RUNS:,}")
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        raise UsageError(f"sweep: {flag} {item!r}: a log range needs LO > 0 and HI > 0")
    if n == 1:
        vals = [lo]
    else:
        a, b = math.log10(lo), math.log10(hi)
        vals = [float(f"{10 ** (a + (b - a) * i / (n - 1)):.12g}") for i in range(n)]
    if kind is int:
        vals = list(dict.fromkeys(round(v) for v in vals))  # 16:256:5 -> 16, 32, 64, 128, 256
    return vals


def expand_grid(grid: dict[str, str | list], base: dict | None = None) -> list[TrainConfig]:
    """{field: grid text or list of values} -> one TrainConfig per point of the product, in order
    (the last field varies fastest); duplicates dropped."""
    names = list(grid)
    axes = [parse_values(n, g) if isinstance(g, str) else list(g) for n, g in grid.items()]
    for n, ax in zip(names, axes):
        field_type(n)
        if not ax:
            raise UsageError(f"sweep: --{n.replace('_', '-')} has no values")
    if math.prod(len(ax) for ax in axes) > MAX_RUNS:
        raise UsageError(f"sweep: the grid holds {math.prod(len(ax) for ax in axes):,} configs; "
                         f"a sweep runs at most {MAX_RUNS:,}")
    cfgs, seen = [], set()
    for combo in itertools.product(*axes):
        d = image_batch_default({**(base or {}), **dict(zip(names, combo))})
        cfg = TrainConfig.from_dict(d, where="sweep")
        if cfg.digest() not in seen:
            seen.add(cfg.digest())
            cfgs.append(cfg)
    return cfgs


def varying(cfgs: list[TrainConfig]) -> list[str]:
    """Fields that take more than one value across the configs, in TrainConfig order."""
    return [n for n in FIELDS if len({repr(getattr(c, n)) for c in cfgs}) > 1]


def run_name(cfg: TrainConfig, study: str, fields: list[str]) -> str:
    return f"{study}: " + " ".join(f"{n}={getattr(cfg, n)}" for n in fields) if fields else study


def add_grid_flags(p) -> None:
    """One --FIELD GRID flag per TrainConfig field (a bare boolean flag means true), and --seeds."""
    for name, f in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(f.default, bool):
            p.add_argument(flag, dest=name, nargs="?", const="true", default=argparse.SUPPRESS, metavar="GRID")
        else:
            p.add_argument(flag, dest=name, default=argparse.SUPPRESS, metavar="GRID")
    p.add_argument("--seeds", metavar="GRID", default=None, help="the seeds, e.g. 0..31 (sugar for --seed)")


def grid_from_args(args) -> list[TrainConfig]:
    grid = {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}
    if args.seeds is not None:
        if "seed" in grid:
            raise UsageError("sweep: give --seeds or --seed, not both")
        grid["seed"] = args.seeds
    return expand_grid(grid)


# -- running ---------------------------------------------------------------------------------------
MIN_PIECE = 8  # members: a batched group is split for idle workers only into pieces at least this big
INTERRUPTED = "KeyboardInterrupt: the sweep was interrupted (Ctrl-C) and this run's task cancelled before it finished"


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def split_groups(groups: list[tuple[list[int], bool]], slots: int) -> list[tuple[list[int], bool]]:
    """The tasks: the groups, with the largest batched ones halved while there are fewer tasks than
    the engine has slots and the halves keep MIN_PIECE members (a member's numbers do not depend on
    the members it is batched with; tests/test_batched.py)."""
    out = list(groups)
    while len(out) < slots:
        k = max(range(len(out)), key=lambda j: len(out[j][0]) if out[j][1] else 0)
        idx, batched = out[k]
        if not batched or len(idx) < 2 * MIN_PIECE:
            break
        out[k:k + 1] = [(idx[:len(idx) // 2], True), (idx[len(idx) // 2:], True)]
    return out


def run_sweep(cfgs: list[TrainConfig], home, *, study: str = "sweep", jobs: int = 1, engine: str = "local",
              address: str | None = None, log=_stderr) -> dict:
    """Train every config into the store at `home` on an engine (engines.py: this process or a local
    pool of `jobs` processes; or Ray, at `address`); returns the summary (JSON-able). Runs are created
    here when their task is sent, tasks return what they recorded, and this process writes it
    (relay.py): the store has one writer, and a task that dies or is cancelled leaves nothing behind
    but its runs marked failed."""
    from nnstudy.batched import plan_groups
    from nnstudy.engines import open_engine
    from nnstudy.store import Store

    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: need at least 1 worker")
    eng = open_engine(engine, jobs=jobs, address=address)
    try:
        store = Store(home)
    except BaseException:
        eng.close()
        raise
    sweep = _Sweep(cfgs, study, store, eng, log)
    try:
        tasks = split_groups(plan_groups(cfgs), eng.slots)
        sweep.log(f"sweep {study!r}: {len(cfgs)} runs in {len(tasks)} groups "
                  f"({sum(b for _, b in tasks)} batched), {eng.describe}")
        t0 = time.perf_counter()
        sweep.run(tasks)
    finally:
        eng.close()
        store.close()
    if sweep.errors:  # every run is written; the first error is the command's (a data problem: exit 2)
        raise sweep.errors[0]
    return summarize(cfgs, sweep.results, study, sweep.fields, tasks, time.perf_counter() - t0)


class _Sweep:
    """run_sweep's loop: keep the engine's window of tasks in flight, write what comes back."""

    def __init__(self, cfgs: list[TrainConfig], study: str, store, eng, log):
        self.cfgs, self.study, self.store, self.eng = cfgs, study, store, eng
        self.verbose, self.log = log is not None, log or (lambda msg: None)  # verbose: tasks log their steps
        self.fields = varying(cfgs)
        self.results: list[dict | None] = [None] * len(cfgs)
        self.open: dict[int, dict[int, str]] = {}  # task -> {config index: run id}, created and not yet written
        self.errors: list[BaseException] = []

    def run(self, tasks: list[tuple[list[int], bool]]) -> None:
        cfgs = self.cfgs
        queue = sorted(range(len(tasks)), key=lambda g: -len(tasks[g][0]) * cfgs[tasks[g][0][0]].steps)
        in_flight: dict = {}  # engine handle -> task
        t0, done = time.perf_counter(), 0
        try:
            while queue or in_flight:
                while queue and len(in_flight) < self.eng.window:
                    g = queue.pop(0)
                    in_flight[self.submit(g, tasks[g][0])] = g
                for handle, payload, error in self.eng.wait(list(in_flight)):
                    g = in_flight.pop(handle)
                    self.collect(g, payload, error)
                    done += len(tasks[g][0])
                    self.log(f"sweep {self.study!r}: {done}/{len(cfgs)} runs done ({time.perf_counter() - t0:.1f} s)")
        except KeyboardInterrupt:
            self.eng.cancel(list(in_flight))
            for g in list(self.open):
                self.fail(g, INTERRUPTED)
            raise

    def submit(self, g: int, idx: list[int]):
        from nnstudy.relay import train_task

        cfgs, names = [self.cfgs[i] for i in idx], [run_name(self.cfgs[i], self.study, self.fields) for i in idx]
        self.open[g] = {}
        for i, cfg, name in zip(idx, cfgs, names):
            self.open[g][i] = self.store.create_run("train", cfg.to_dict(), study=self.study, name=name,
                                                    seed=cfg.seed, digest=cfg.digest(), device=cfg.device)
        ids = {self.cfgs[i].digest(): rid for i, rid in self.open[g].items()}
        c0 = cfgs[0]  # resources are a group field: every member asks the same
        return self.eng.submit(train_task, [c.to_dict() for c in cfgs], names, ids, self.study, self.verbose,
                               cpus=max(1, c0.threads), cuda=c0.device in ("cuda", "auto"))

    def collect(self, g: int, payload: dict | None, error: BaseException | None) -> None:
        from nnstudy.relay import replay

        if error is not None:
            self.errors.append(error)
            return self.fail(g, f"{type(error).__name__}: {error}")
        runs = self.open[g]
        for i in list(runs):
            self.results[i] = replay(self.store, runs[i], payload[runs[i]])
            del runs[i]
        del self.open[g]

    def fail(self, g: int, why: str) -> None:
        for i, rid in self.open.pop(g).items():
            self.store.finish(rid, "failed", error=why)
            self.results[i] = {"run": rid, "status": "failed", "final": {}, "error": why, "warnings": []}


def summarize(cfgs, results, study: str, fields: list[str], groups, seconds: float) -> dict:
    """One row per config minus its seed: mean ± std over seeds of the final accuracies (None where
    a split does not exist), and how many complete runs carry learning warnings (warned)."""
    from nnstudy.studies import mean_std

    keys = [f for f in fields if f != "seed"]
    cells: dict[tuple, list[int]] = {}
    for i, cfg in enumerate(cfgs):
        cells.setdefault(tuple(getattr(cfg, f) for f in keys), []).append(i)
    splits = ["train"] + (["val"] if any(c.val_frac > 0 for c in cfgs) else []) + ["test"]
    table = []
    for key, idx in cells.items():
        ok = [results[i] for i in idx if results[i]["status"] == "complete"]
        row = dict(zip(keys, key))
        row.update(n=len(ok), diverged=sum(results[i]["status"] == "diverged" for i in idx),
                   warned=sum(bool(r.get("warnings")) for r in ok))  # complete but at chance or blown up
        for split in splits:  # every row has every column, "n/a" where no run completed
            row[f"{split} acc"] = mean_std(r["final"].get(f"{split}_acc") for r in ok)
        table.append(row)
    return {"study": study, "runs": len(cfgs), "groups": [{"size": len(i), "batched": b} for i, b in groups],
            "seconds": round(seconds, 2), "varying": fields, "table": table,
            "run_ids": [r["run"] for r in results]}
