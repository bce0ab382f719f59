"""Time to 91% on Fashion-MNIST, whole process: the pytorch/examples MNIST recipe against nnstudy's.

    python benchmarks/peer_fmnist.py                   # 3 seeds a side, quiet and one busy core: ~1 h
    python benchmarks/peer_fmnist.py --quick           # 1 seed, the best thread settings only: ~10 min
    python benchmarks/peer_fmnist.py --repeats 2 --no-busy
    python benchmarks/peer_fmnist.py --busy-repeats 1   # 3 seeds quiet, 1 with a core busy: ~35 min

The peer is the recipe every PyTorch user starts from, pytorch/examples mnist/main.py, written out
below (PEER) and pointed at Fashion-MNIST read from the same IDX files: its `Net` (conv 32, conv 64,
2x2 max pool, dropout 0.25, fc 128, dropout 0.5, log-softmax), Adadelta at lr 1.0, StepLR gamma 0.7
each epoch, batches of 64 (test 1000), ToTensor + Normalize((0.1307,), (0.3081,)) (MNIST's numbers,
as the example has them), torchvision's FashionMNIST and DataLoader with the example's CPU settings
(no workers, and no shuffling: the example shuffles only on an accelerator), and the test set
scored after each epoch. Its time is from the process's start to the end of the first epoch whose
test accuracy reaches 0.91 (it stops there; at most 14 epochs, the example's default).

nnstudy's side is `python -m nnstudy train --recipe R --json --no-figures` as a user would type
it: its time is the whole process, start to exit (import, data, training, the final evaluation,
the store), and its final test accuracy must be >= 0.91 to count. Peak memory: each child's peak
resident set (getrusage). Each side runs at 1 and 2 torch threads (nnstudy also with its own
choice, auto_threads) and is scored at its best; runs alternate peer / nnstudy so both meet the
same load. Then the same with one core kept busy by a spinning process this script starts and
stops (a Python `while True` loop; the scheduler may move it between cores, as a laptop's would).
Results go to results/peer_fmnist.json and results/peer_fmnist.md with the command, the CPU and
the load average.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OMP_BEFORE = os.environ.get("OMP_WAIT_POLICY")  # the peer runs with the user's setting, not nnstudy's

sys.path.insert(0, str(Path(__file__).parent))
from images import BusyCore, conditions, torchvision_root  # noqa: E402  (benchmarks/images.py)

RESULTS = Path(__file__).parent / "results"
TARGET = 0.91

PEER = r'''
import sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision import datasets, transforms

root, seed, threads, max_epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
target = float(sys.argv[5])
torch.set_num_threads(threads)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = torch.flatten(F.max_pool2d(x, 2), 1)
        x = self.dropout2(F.relu(self.fc1(self.dropout1(x))))
        return F.log_softmax(self.fc2(x), dim=1)


def train(model, loader, optimizer):
    model.train()
    for data, target in loader:
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()


def test(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in loader:
            correct += model(data).argmax(dim=1).eq(target).sum().item()
    return correct / len(loader.dataset)


torch.manual_seed(seed)
tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
train_loader = torch.utils.data.DataLoader(datasets.FashionMNIST(root, train=True, transform=tf), batch_size=64)
test_loader = torch.utils.data.DataLoader(datasets.FashionMNIST(root, train=False, transform=tf), batch_size=1000)
model = Net()
optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
for epoch in range(1, max_epochs + 1):
    train(model, train_loader, optimizer)
    acc = test(model, test_loader)
    scheduler.step()
    print(f"epoch {epoch} test_acc {acc:.4f} at {time.time():.3f}", flush=True)
    if acc >= target:
        break
'''


def run_peer(root: Path, seed: int, threads: int) -> dict:
    """The peer's process: time to the end of its first epoch at >= TARGET, its accuracies, peak RSS."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if OMP_BEFORE is not None:
        env["OMP_WAIT_POLICY"] = OMP_BEFORE
    cmd = [sys.executable, "-c", PEER, str(root), str(seed), str(threads), "14", str(TARGET)]
    t0, wall, out, rss, cpu = timed(cmd, env)
    epochs = [line.split() for line in out.splitlines() if line.startswith("epoch ")]
    accs = [float(e[3]) for e in epochs]
    hit = next((i for i, a in enumerate(accs) if a >= TARGET), None)
    seconds = float(epochs[hit][5]) - t0 if hit is not None else None
    return {"side": "peer", "seed": seed, "threads": threads, "seconds_to_target": seconds,
            "epochs": len(accs), "test_acc": accs[-1], "accs": accs, "wall": wall, "peak_rss_mb": rss,
            "cpu_seconds": cpu}


def run_nnstudy(recipe: str, seed: int, threads: int | str, out_dir: Path) -> dict:
    """`nnstudy train --recipe` in its own process: whole-process seconds, final test accuracy, peak RSS."""
    flags = ["--threads", str(threads)] if threads != "auto" else []
    cmd = [sys.executable, "-m", "nnstudy", "train", "--recipe", recipe, "--seed", str(seed), "--json",
           "--no-figures", "--no-checkpoint", "--out", str(out_dir), *flags]
    _, wall, out, rss, cpu = timed(cmd, dict(os.environ))
    s = json.loads(out)
    acc = s["final"]["test_acc"]
    return {"side": "nnstudy", "recipe": recipe, "seed": seed, "threads": threads,
            "seconds_to_target": wall if acc >= TARGET else None, "test_acc": acc, "wall": wall,
            "train_seconds": s["train_seconds"], "peak_rss_mb": rss, "cpu_seconds": cpu}


def timed(cmd: list[str], env: dict) -> tuple[float, float, str, float, float]:
    """(start time.time(), wall seconds to exit, stdout, peak RSS MB, CPU seconds) of one child."""
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.time() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({code}):\n{err[-2000:]}")
    return t0, wall, out, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def best(rows: list[dict], side: str) -> dict:
    """A side's best thread setting: the lowest median time to target (a run that missed counts as inf)."""
    by = {}
    for r in rows:
        if r["side"] == side:
            by.setdefault(r["threads"], []).append(r)
    def med(rs):
        return statistics.median(r["seconds_to_target"] or float("inf") for r in rs)
    threads = min(by, key=lambda t: med(by[t]))
    rs = by[threads]
    return {"threads": threads, "seconds": med(rs), "test_acc": statistics.median(r["test_acc"] for r in rs),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rs), "runs": len(rs),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in rs),
            "per_setting": {str(t): med(v) for t, v in by.items()}}


def measure(root: Path, recipe: str, seeds: list[int], peer_threads: list[int], ours_threads: list,
            busy: bool, log) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, (BusyCore() if busy else _nothing()):
        for seed in seeds:  # alternating: peer, nnstudy, peer, ... so both meet the same load
            for pt, ot in itertools.zip_longest(peer_threads, ours_threads):
                for kind, t in (("peer", pt), ("nnstudy", ot)):
                    if t is None:
                        continue
                    r = run_peer(root, seed + 1, t) if kind == "peer" else \
                        run_nnstudy(recipe, seed, t, Path(tmp) / "runs")
                    r["load_avg"] = os.getloadavg()[0]
                    rows.append(r)
                    log(r)
    peer, ours = best(rows, "peer"), best(rows, "nnstudy")
    return {"rows": rows, "peer": peer, "nnstudy": ours, "ratio": peer["seconds"] / ours["seconds"]}


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def show(r: dict) -> None:
    t = r["seconds_to_target"]
    when = f"{t:6.1f} s to {TARGET}" if t is not None else f"missed {TARGET}"
    extra = f", {r['epochs']} epochs" if r["side"] == "peer" else f", training {r['train_seconds']:.0f} s"
    print(f"  {r['side']:<8} seed {r['seed']} threads {r['threads']!s:<4} {when}, final {r['test_acc']:.4f}{extra}, "
          f"peak RSS {r['peak_rss_mb']:.0f} MB, CPU {r['cpu_seconds']:.0f} s, load {r['load_avg']:.1f}", flush=True)


def render(res: dict) -> str:
    c = res["conditions"]
    lines = ["# Time to 91% on Fashion-MNIST, whole process (benchmarks/peer_fmnist.py)", "",
             f"`{c['command']}` at {c['when']}, {c['cpu']}, {c['cpus']} CPUs, torch {c['torch']}, load average at "
             f"the end {c['load_avg']} (a shared machine: a load average above the benchmark's own two processes "
             "means other work ran beside these numbers).", "",
             "| condition | side | best threads | median s to 0.91 | CPU s | final test acc | peak RSS MB | runs "
             "| s by threads |",
             "|---|---|---|---|---|---|---|---|---|"]
    for cond in ("quiet", "busy"):
        if cond not in res:
            continue
        for side in ("peer", "nnstudy"):
            b = res[cond][side]
            per = ", ".join(f"{t}: {s:.0f}" for t, s in b["per_setting"].items())
            name = "pytorch/examples mnist" if side == "peer" else f"nnstudy {res['recipe']}"
            lines.append(f"| {cond} | {name} | {b['threads']} | {b['seconds']:.1f} | {b['cpu_seconds']:.0f} | "
                         f"{b['test_acc']:.4f} | {b['peak_rss_mb']:.0f} | {b['runs']} | {per} |")
        lines.append(f"| {cond} | **ratio** | | **{res[cond]['ratio']:.1f}x** | | | | | |")
    if "quiet" in res and "busy" in res:
        q, b = res["quiet"]["nnstudy"]["seconds"], res["busy"]["nnstudy"]["seconds"]
        lines += ["", f"nnstudy under one busy core: {b / q:.2f}x its quiet time (best settings each)."]
    lines += ["", "Busy: a `while True` Python process running beside both sides for the whole condition.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="fmnist-sprint", help="nnstudy's recipe (final test accuracy must reach 0.91)")
    ap.add_argument("--repeats", type=int, default=3, help="seeds per side and thread setting")
    ap.add_argument("--quick", action="store_true", help="one seed, 2 threads for the peer and auto for nnstudy")
    ap.add_argument("--no-busy", action="store_true", help="skip the busy-core condition")
    ap.add_argument("--busy-repeats", type=int, default=None,
                    help="seeds per side and thread setting with a core busy (default: --repeats; the peer's "
                         "runs take 2-5x longer there)")
    args = ap.parse_args()
    seeds = list(range(1 if args.quick else args.repeats))
    busy_seeds = seeds if args.busy_repeats is None or args.quick else list(range(args.busy_repeats))
    peer_threads = [2] if args.quick else [1, 2]
    ours_threads = ["auto"] if args.quick else [1, 2, "auto"]
    res = {"recipe": args.recipe}
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        for cond in ["quiet"] + ([] if args.no_busy else ["busy"]):
            print(f"{cond}:", flush=True)
            pt = ([1] if args.quick else [1, 2]) if cond == "busy" else peer_threads
            res[cond] = measure(root, args.recipe, busy_seeds if cond == "busy" else seeds, pt, ours_threads,
                                cond == "busy", show)
            p, o = res[cond]["peer"], res[cond]["nnstudy"]
            print(f"{cond}: peer {p['seconds']:.1f} s ({p['threads']} threads), nnstudy {o['seconds']:.1f} s "
                  f"({o['threads']} threads): {res[cond]['ratio']:.1f}x", flush=True)
    res["conditions"] = conditions()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "peer_fmnist.json").write_text(json.dumps(res, indent=2))
    md = render(res)
    (RESULTS / "peer_fmnist.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
