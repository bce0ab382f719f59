"""The local pool against Ray, side by side on one machine: what Ray costs a sweep.

    python benchmarks/sweep_engines.py              # ~8 minutes on a quiet 2-core CPU
    python benchmarks/sweep_engines.py --quick      # ~3 minutes: 200 steps, 2 repeats

1. The issue-7 sweep, `nnstudy sweep --seeds 0..31 --lr 1e-3,1e-2,1e-1 --optimizer sgd,adam` (192
   spiral MLPs, 1000 full-batch steps; two batched groups of 96), as the command a user types:
   `--jobs 2` (the local pool) against `--engine ray --address ADDR` (a Ray of 2 CPUs that this
   script starts once, as `ray start --head` would: every command is a new Ray job, whose workers
   start and import torch afresh, as the pool's do). Alternated, --repeats times each; medians of the
   command's wall time (what the user waits for) and of the sweep's own seconds (its summary: from
   the first task sent to the last run written). Ratio Ray / pool; target within 1.2x.
2. Per-task overhead: one-step solo tasks (dropout trains solo) through each engine, warm (workers
   started), kept in flight as the sweep keeps them, in this process, at two counts; the slope
   (seconds per extra task) is each engine's cost per task, and Ray's minus the pool's is its
   overhead in ms. Each command's fixed cost: `nnstudy sweep` of two such tasks, pool against Ray
   joining the running one (alternated), and Ray started for the command (no --address).
3. Projection for N machines of 2 cores: the sweep split into pieces of sweep.MIN_PIECE members
   (what the Ray engine does for idle CPUs); a piece's training time measured here (one batched
   piece, in this process), plus the measured fixed and per-task costs:
   T(N) = fixed + ceil(pieces / 2N) x piece_seconds + tasks x per-task overhead.
Prints a Markdown report and writes it to results/sweep_engines.md with the CPU model and the load
average before and after (the machine is shared: the side-by-side ratio is what counts).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
ISSUE7 = ["--seeds", "0..31", "--lr", "1e-3,1e-2,1e-1", "--optimizer", "sgd,adam"]
MACHINES = (1, 2, 4, 8)  # of 2 cores each, for the projection
TINY = ["--n-per-class", "30", "--width", "8", "--dropout", "0.1", "--steps", "1", "--device", "cpu", "--threads", "1"]


def sweep(args: list[str], engine: list[str]) -> tuple[float, dict]:
    """One `nnstudy sweep ... --json` in a fresh process: (wall seconds, its summary)."""
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "nnstudy", "sweep", *args, *engine, "--json", "--out", out],
                           capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"sweep failed ({p.returncode}): {p.stderr[-2000:]}")
    return wall, json.loads(p.stdout)


def side_by_side(args: list[str], engines: dict[str, list[str]], repeats: int) -> dict[str, dict]:
    times: dict[str, dict] = {name: {"wall": [], "sweep": []} for name in engines}
    for r in range(repeats):
        order = list(engines) if r % 2 == 0 else list(reversed(engines))  # alternate who goes first
        for name in order:
            wall, summary = sweep(args, engines[name])
            times[name]["wall"].append(wall)
            times[name]["sweep"].append(summary["seconds"])
            print(f"  {name:<5} wall {wall:6.1f} s, sweep {summary['seconds']:6.1f} s "
                  f"({summary['runs']} runs, {len(summary['groups'])} tasks)", file=sys.stderr, flush=True)
    return {name: {k: statistics.median(v) for k, v in t.items()} | {"all": t} for name, t in times.items()}


def round_trips(eng, n: int) -> float:
    """Seconds for n one-step solo tasks through a warm engine, kept `window` in flight as the sweep
    keeps them: sending each, training one step, returning what it recorded (no store here)."""
    from nnstudy.config import TrainConfig
    from nnstudy.relay import train_task

    cfg = TrainConfig(n_per_class=30, width=8, dropout=0.1, steps=1, device="cpu", threads=1)
    args = ([cfg.to_dict()], ["tiny"], {cfg.digest(): "tiny"}, "tiny", False)
    pending: set = set()
    sent, t0 = 0, time.perf_counter()
    while sent < n or pending:
        while sent < n and len(pending) < eng.window:
            pending.add(eng.submit(train_task, *args, cpus=1))
            sent += 1
        for handle, _, error in eng.wait(list(pending)):
            assert error is None, error
            pending.discard(handle)
    return time.perf_counter() - t0


def per_task(lo: int, hi: int, repeats: int) -> dict[str, dict]:
    """Each engine's seconds per task: the slope between lo and hi tasks, warm, alternated."""
    from nnstudy.engines import LocalEngine, RayEngine

    engines = {"pool": LocalEngine(2), "ray": RayEngine()}  # RayEngine joins this script's Ray
    try:
        for eng in engines.values():
            round_trips(eng, 2 * eng.window)  # warm-up: workers started, torch imported
        times: dict[str, dict[int, list]] = {e: {lo: [], hi: []} for e in engines}
        for r in range(repeats):
            for e in (list(engines) if r % 2 == 0 else list(reversed(engines))):
                for n in (lo, hi):
                    times[e][n].append(round_trips(engines[e], n))
    finally:
        for eng in engines.values():
            eng.close()
    out = {}
    for e, t in times.items():
        med = {n: statistics.median(v) for n, v in t.items()}
        out[e] = med | {"slope": (med[hi] - med[lo]) / (hi - lo)}
        print(f"  {e}: {lo} tasks {med[lo]:.2f} s, {hi} tasks {med[hi]:.2f} s", file=sys.stderr, flush=True)
    return out


def pieces(steps: int, sizes: list[int]) -> tuple[dict[int, float], float]:
    """Batched pieces of the issue-7 sweep (Adam, lr 1e-2) as a task trains them and the command's
    process writes them, here on one thread: ({members: training seconds}, writing seconds per run)."""
    import torch

    from nnstudy.config import TrainConfig
    from nnstudy.relay import replay, train_task
    from nnstudy.store import Store

    torch.set_num_threads(1)
    out, writes = {}, []
    with tempfile.TemporaryDirectory() as home:
        store = Store(home)
        for k in [2, *sizes]:  # 2: warm-up
            cfgs = [TrainConfig(optimizer="adam", lr=1e-2, seed=s, steps=steps, device="cpu") for s in range(k)]
            ids = {c.digest(): store.create_run("train", c.to_dict(), digest=c.digest()) for c in cfgs}
            t0 = time.perf_counter()
            payload = train_task([c.to_dict() for c in cfgs], [str(c.seed) for c in cfgs], ids, "piece", False,
                                 threads=1)
            t1 = time.perf_counter()
            for rid, rec in payload.items():
                replay(store, rid, rec)
            out[k], _ = t1 - t0, writes.append((time.perf_counter() - t1) / k)
            print(f"  a piece of {k}: {out[k]:.2f} s training, {1000 * writes[-1]:.1f} ms writing a run",
                  file=sys.stderr, flush=True)
        store.close()
    return out, statistics.median(writes[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 steps instead of 1000, 2 repeats")
    ap.add_argument("--steps", type=int, default=None, help="steps per run (default 1000; quick 200)")
    ap.add_argument("--repeats", type=int, default=None, help="runs of each engine (default 3; quick 2)")
    ap.add_argument("--tiny", default="40,200", help="task counts of the per-task overhead sweeps")
    a = ap.parse_args()
    import ray

    from nnstudy.batched import plan_groups
    from nnstudy.store import cpu_name
    from nnstudy.sweep import MIN_PIECE, expand_grid, split_groups

    steps = a.steps or (200 if a.quick else 1000)
    repeats = a.repeats or (2 if a.quick else 3)
    lo, hi = (int(x) for x in a.tiny.split(","))
    load0 = os.getloadavg()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    address = ray.get_runtime_context().gcs_address
    engines = {"pool": ["--jobs", "2"], "ray": ["--engine", "ray", "--address", address]}
    print(f"1. the issue-7 sweep, {steps} steps, {repeats} x each engine", file=sys.stderr)
    main_sweep = side_by_side([*ISSUE7, "--steps", str(steps), "--device", "cpu"], engines, repeats)
    print("2. tiny tasks", file=sys.stderr)
    tiny = per_task(lo, hi, repeats)
    slope = {e: t["slope"] for e, t in tiny.items()}
    two = side_by_side([*TINY, "--seeds", "0..1"], engines, 2 * repeats)  # each command's fixed cost
    fixed = two["ray"]["all"]["wall"]
    ray.shutdown()
    cold = [sweep([*TINY, "--seeds", "0..1"], ["--engine", "ray"])[0] for _ in range(repeats)]
    grid = expand_grid({"seed": "0..31", "lr": "1e-3,1e-2,1e-1", "optimizer": "sgd,adam", "steps": str(steps)})
    plans = {n: split_groups(plan_groups(grid), 2 * n) for n in MACHINES}  # what the Ray engine sends N machines
    print("3. pieces", file=sys.stderr)
    piece, write = pieces(steps, sorted({len(plans[n][0][0]) for n in MACHINES}, reverse=True))
    load1 = os.getloadavg()

    pool, rayt = main_sweep["pool"], main_sweep["ray"]
    per_task_ms = 1000 * (slope["ray"] - slope["pool"])
    fixed_s = statistics.median(fixed)  # a Ray command's fixed cost: start, torch import, join, first workers
    extra = two["ray"]["wall"] - two["pool"]["wall"] - 2 * per_task_ms / 1000  # Ray's fixed cost over the pool's
    n_tasks = len(plans[1])  # the issue-7 sweep's tasks on this machine's 2 CPUs
    rounds = [r / p for r, p in zip(rayt["all"]["wall"], pool["all"]["wall"])]
    lines = [
        f"# Sweep engines: the local pool against Ray ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} CPUs; load average {load0[0]:.2f} before, {load1[0]:.2f} "
        f"after (shared with other work). `python benchmarks/sweep_engines.py {' '.join(sys.argv[1:])}`; "
        f"Ray {ray.__version__}.",
        "",
        f"## The issue-7 sweep (192 runs, {steps} steps, 2 batched groups), medians of {repeats}, alternated",
        "",
        "| engine | command wall s | sweep s | each run's wall s |",
        "|---|---|---|---|",
    ]
    for name, t in main_sweep.items():
        lines.append(f"| {name} | {t['wall']:.1f} | {t['sweep']:.1f} | "
                     f"{', '.join(f'{x:.1f}' for x in t['all']['wall'])} |")
    lines += [
        "",
        f"**Ray / pool: {rayt['wall'] / pool['wall']:.3f}x** (command wall), {rayt['sweep'] / pool['sweep']:.3f}x "
        "(the sweep's own seconds). Target: within 1.2x. Round by round (alternated, the same minutes): "
        + ", ".join(f"{r:.2f}x" for r in rounds) + ".",
        "",
        f"From the parts measured below (cheaper, so repeated more): Ray adds {extra:+.1f} s a command "
        f"(fixed cost over the pool's) and {per_task_ms:+.1f} ms a task, so this sweep's {n_tasks} "
        f"tasks cost **{(pool['wall'] + extra + n_tasks * per_task_ms / 1000) / pool['wall']:.3f}x** the pool's time "
        f"({pool['wall']:.1f} s).",
        "",
        f"## Per task ({lo} and {hi} one-step solo tasks through each engine, warm, in this process, "
        f"medians of {repeats}, alternated)",
        "",
        "| engine | " + " | ".join(f"{n} tasks s" for n in (lo, hi)) + " | per extra task |",
        "|---|---|---|---|",
    ]
    for e, t in tiny.items():
        lines.append(f"| {e} | {t[lo]:.2f} | {t[hi]:.2f} | {t['slope'] * 1000:.1f} ms |")
    lines += [
        "",
        "Per task (sending it, training one step on one of 2 workers, returning its records): "
        f"Ray **{slope['ray'] * 1000:.1f} ms**, the pool "
        f"{slope['pool'] * 1000:.1f} ms: Ray's overhead {per_task_ms:+.1f} ms a task. A Ray command's fixed "
        "cost (`nnstudy sweep` of 2 one-step tasks joining the running Ray: interpreter, torch import, "
        f"joining, workers starting): {fixed_s:.1f} s, the pool's {two['pool']['wall']:.1f} s (medians of "
        f"{2 * repeats}, alternated); starting a local Ray as well (`--engine ray` without "
        f"--address): {statistics.median(cold):.1f} s.",
        "",
        "## Projection for N machines of 2 cores",
        "",
        "The Ray engine halves batched groups while the cluster has idle CPUs (down to "
        f"{MIN_PIECE} members). Measured here, one thread: a piece of K members trains in "
        + ", ".join(f"{t:.2f} s (K={k})" for k, t in piece.items() if k != 2)
        + f"; the command's process writes a {steps}-step run in {write * 1000:.1f} ms. "
        f"T(N) = {fixed_s:.1f} s fixed + waves x piece + tasks x {slope['ray'] * 1000:.0f} ms + 192 x "
        f"{write * 1000:.1f} ms (writes counted as if none overlapped training: an upper bound):",
        "",
        "| N machines | tasks of K members | waves | T(N) s | T(1) / T(N) |",
        "|---|---|---|---|---|",
    ]
    t1 = None
    for n in MACHINES:
        tasks = plans[n]
        k = len(tasks[0][0])
        waves = math.ceil(len(tasks) / (2 * n))
        t = fixed_s + waves * piece[k] + len(tasks) * slope["ray"] + 192 * write
        t1 = t1 or t
        lines.append(f"| {n} | {len(tasks)} x {k} | {waves} | {t:.1f} | {t1 / t:.2f}x |")
    lines += ["", f"Past N = {MACHINES[-1]} the pieces cannot be halved again: more machines add nothing here."]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweep_engines.md").write_text(text)


if __name__ == "__main__":
    main()
