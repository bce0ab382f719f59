"""Spiral training speed: the week's loop vs nnstudy's, side by side in one process.

The week's ReLU+Adam run as its notebook wrote it (a plain loop that prints every step; `model(x)`
fixed to `model(X)`; printing goes to a null sink instead of a notebook cell) against
`nnstudy.train.fit` on the same 3,000 points, same model, same seed, 1000 full-batch steps.
nnstudy's loop also records train loss/accuracy every step and evaluates a 600-point held-out
draw every 10 steps (its full-batch default); the week's loop does neither. Reports the median
of --repeats runs of each, interleaved, and the ratio nnstudy / week (< 1: nnstudy is faster).

    python benchmarks/spiral.py [--repeats 5] [--study]   # --study also times `nnstudy run spiral`
"""

from __future__ import annotations

import argparse
import io
import os
import platform
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


def nnstudy_fit(X, Y, Xh, Yh, seed: int) -> tuple[float, float]:
    torch.manual_seed(seed)
    model = MLP(2, 3, 100, 1, "relu")
    data = Dataset("spiral", X, Y, Xh, Yh, num_classes=3)
    cfg = TrainConfig(optimizer="adam", lr=1e-3, weight_decay=1e-5, steps=1000, device="cpu")
    res = fit(model, data, cfg)
    last = [v for s, sp, n, v in res.records if s == 999 and sp == "train" and n == "acc"][0]
    return res.seconds, last


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--study", action="store_true", help="also time `nnstudy run spiral --profile default`")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for both sides (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(12345)
    X, Y = make_spiral(1000, 3, 0.2)
    Xh, Yh = make_spiral(200, 3, 0.2, generator=torch.Generator().manual_seed(2024))
    week, ours = [], []
    for r in range(args.repeats):
        tw, aw = week_loop(X, Y, 12345 + r)
        to, ao = nnstudy_fit(X, Y, Xh, Yh, 12345 + r)
        assert abs(aw - ao) < 1e-6, (aw, ao)  # same computation, same numbers
        week.append(tw)
        ours.append(to)
    mw, mo = statistics.median(week), statistics.median(ours)
    lines = [
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        "",
        "| 1000 full-batch Adam steps, 3,000 points, H=100 | median s | runs |",
        "|---|---|---|",
        f"| the week's loop (prints every step) | {mw:.3f} | {args.repeats} |",
        f"| nnstudy `fit` (+ records every step, held-out eval every 10) | {mo:.3f} | {args.repeats} |",
        f"| ratio nnstudy / week | {mo / mw:.2f} | |",
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
