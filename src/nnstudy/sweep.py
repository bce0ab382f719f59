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
groups run one after another, or side by side in `--jobs N` worker processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import itertools
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

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
def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _work(home: str, cfg_dicts: list[dict], study: str, names: list[str], threads: int, verbose: bool) -> list[dict]:
    """One group, in this process or a worker: its own Store on the shared folder (SQLite WAL)."""
    import torch

    from nnstudy.batched import train_many
    from nnstudy.store import Store

    if threads:
        torch.set_num_threads(threads)
    store = Store(home)
    try:
        cfgs = [TrainConfig.from_dict(d) for d in cfg_dicts]
        res = train_many(cfgs, store, study=study, names=names, log=_stderr if verbose else None)
        return [{"run": r.run_id, "status": r.status, "final": r.final, "error": r.error, "warnings": r.warnings}
                for r in res]
    finally:
        store.close()


def run_sweep(cfgs: list[TrainConfig], home, *, study: str = "sweep", jobs: int = 1,
              log=_stderr) -> dict:
    """Train every config into the store at `home`; returns the summary (JSON-able)."""
    from nnstudy.batched import plan_groups

    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: need at least 1 worker")
    fields = varying(cfgs)
    groups = plan_groups(cfgs)
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0
    tasks = [(str(home), [cfgs[i].to_dict() for i in idx], study, [run_name(cfgs[i], study, fields) for i in idx],
              threads, log is not None) for idx, _ in groups]
    log = log or (lambda msg: None)
    log(f"sweep {study!r}: {len(cfgs)} runs in {len(groups)} groups "
        f"({sum(b for _, b in groups)} batched), {jobs} worker{'s' * (jobs > 1)}")
    results: list[dict | None] = [None] * len(cfgs)
    t0, done = time.perf_counter(), 0

    def collect(g: int, rows: list[dict]) -> None:
        nonlocal done
        for i, row in zip(groups[g][0], rows):
            results[i] = row
        done += len(rows)
        log(f"sweep {study!r}: {done}/{len(cfgs)} runs done ({time.perf_counter() - t0:.1f} s)")

    order = sorted(range(len(groups)), key=lambda g: -len(groups[g][0]) * cfgs[groups[g][0][0]].steps)
    if jobs == 1:
        for g in order:
            collect(g, _work(*tasks[g]))
    else:  # spawn: a fresh interpreter per worker, never a forked copy of torch's threads
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_work, *tasks[g]): g for g in order}
            for f in as_completed(futures):
                collect(futures[f], f.result())
    return summarize(cfgs, results, study, fields, groups, time.perf_counter() - t0)


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
