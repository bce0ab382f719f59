"""Spiral training speed: the week's loop vs nnstudy's, side by side in one process.

The week's ReLU+Adam run as its notebook wrote it (a plain loop that prints every step; `model(x)`
fixed to `model(X)`; printing goes to a null sink instead of a notebook cell) against
`nnstudy.train.fit` on the same 3,000 points, same model, same seed, 1000 full-batch steps.
nnstudy's loop also records train loss/accuracy every step and evaluates a 600-point held-out
draw every 10 steps (its full-batch default); the week's loop does neither. Reports the median
of all runs, interleaved pairs in several fresh processes, and the ratio nnstudy / week (< 1: nnstudy
is faster).

    python benchmarks/spiral.py [--processes 5] [--repeats 4] [--study]   # --study also times `nnstudy run spiral`
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from nnstudy.config import TrainConfig
from nnstudy.data import Dataset
from nnstudy.data.toy import make_spiral
from nnstudy.models.mlp import MLP
from nnstudy.store import cpu_name
from nnstudy.train import fit


def week_loop(X, Y, seed: int) -> tuple[float, float]:
    """The notebook's cell, verbatim but for model(X) and the print sink. Returns (seconds, acc)."""
    torch.manual_seed(seed)
    D, H, C = 2, 100, 3
    model = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, C))
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    sink = io.StringIO()
    t0 = time.perf_counter()
    for t in range(1000):
        y_pred = model(X)
        loss = criterion(y_pred, Y)
        score, predicted = torch.max(y_pred, 1)
        acc = ((Y == predicted).sum().float() / len(Y))
        print("[EPOCH]: %i, [LOSS]: %.6f, [ACCURACY]: %.3f" % (t, loss.item(), acc), file=sink)  # noqa: UP031 (verbatim)
        sink.seek(0)
        sink.truncate()  # display.clear_output(wait=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - t0, float(acc)


def nnstudy_fit(X, Y, Xh, Yh, seed: int, held_out: bool = True) -> tuple[float, float]:
    """held_out=False: the held-out set is evaluated once, at step 0 (the week's work: no held-out set)."""
    torch.manual_seed(seed)
    model = MLP(2, 3, 100, 1, "relu")
    data = Dataset("spiral", X, Y, Xh, Yh, num_classes=3)
    cfg = TrainConfig(optimizer="adam", lr=1e-3, weight_decay=1e-5, steps=1000, device="cpu",
                      eval_every=0 if held_out else 10**9)
    res = fit(model, data, cfg)
    last = [v for s, sp, n, v in res.records if s == 999 and sp == "train" and n == "acc"][0]
    return res.seconds, last


def worker(repeats: int, threads: int) -> None:
    """One process: --repeats interleaved pairs (week, fit); prints their times as one JSON line."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(12345)
    X, Y = make_spiral(1000, 3, 0.2)
    Xh, Yh = make_spiral(200, 3, 0.2, generator=torch.Generator().manual_seed(2024))
    runs = {"week": lambda r: week_loop(X, Y, r), "ours": lambda r: nnstudy_fit(X, Y, Xh, Yh, r),
            "bare": lambda r: nnstudy_fit(X, Y, Xh, Yh, r, held_out=False)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(repeats):
        names = list(runs)[r % 3:] + list(runs)[:r % 3]  # rotate who goes first
        for name in names:
            times[name].append(runs[name](12345 + r)[0])
    # same computation, same numbers: checked once, outside the timed runs
    aw, ao = week_loop(X, Y, 1)[1], nnstudy_fit(X, Y, Xh, Yh, 1)[1]
    assert abs(aw - ao) < 1e-6, (aw, ao)
    print(json.dumps({**times, "threads": torch.get_num_threads()}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--processes", type=int, default=5, help="fresh processes, each timing --repeats pairs")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--study", action="store_true", help="also time `nnstudy run spiral --profile default`")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for both sides (0: torch's default)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.repeats, args.threads)
    # Why several processes: the same loop timed in two fresh processes differed by up to 7% here, in either
    # direction (heap layout, page placement), more than the difference being measured; within one process
    # the order of the pair matters less. Every pair is timed side by side; medians pool all processes.
    times: dict[str, list[float]] = {"week": [], "ours": [], "bare": []}
    per_process: dict[str, list[float]] = {"ours": [], "bare": []}
    threads = 0
    for _ in range(args.processes):
        out = subprocess.run([sys.executable, __file__, "--worker", "--repeats", str(args.repeats),
                              "--threads", str(args.threads)], check=True, capture_output=True, text=True).stdout
        got = json.loads(out.strip().splitlines()[-1])
        threads = got.pop("threads")
        for k, v in got.items():
            times[k] += v
        for k in per_process:
            per_process[k].append(statistics.median(got[k]) / statistics.median(got["week"]))
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(times["week"])

    def spread(k: str) -> str:
        v = per_process[k]
        return f"{min(v):.3f} / {statistics.median(v):.3f} / {max(v):.3f}"

    lines = [
        f"machine: {cpu_name()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {threads} threads; {args.processes} processes x {args.repeats} runs of each",
        "",
        "| 1000 full-batch Adam steps, 3,000 points, H=100 | median s | ratio to the week (pooled) "
        "| ratio per process (min / median / max) |",
        "|---|---|---|---|",
        f"| the week's loop (prints loss and accuracy every step) | {med['week']:.3f} | 1 | |",
        f"| nnstudy `fit`, the same work (records loss and accuracy every step) | {med['bare']:.3f} "
        f"| {med['bare'] / med['week']:.3f} | {spread('bare')} |",
        f"| nnstudy `fit` as it runs by default (+ held-out eval every 10 steps) | {med['ours']:.3f} "
        f"| {med['ours'] / med['week']:.3f} | {spread('ours')} |",
        f"| runs of each | {n} | | |",
    ]
    if args.study:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nnstudy", "run", "spiral", "--profile", "default", "--out", tmp],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lines.append(f"| `nnstudy run spiral --profile default` wall time | {time.perf_counter() - t0:.1f} | 1 |")
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results" / "spiral.md"
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
