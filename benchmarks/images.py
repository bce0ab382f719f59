"""Fashion-MNIST on the CPU: training throughput, peak memory, and the recipes' accuracy and time.

    python benchmarks/images.py --throughput [--repeats 5]    # a few minutes
    python benchmarks/images.py --accuracy [--seeds 3]        # real CPU time: ~3 x (lenet5 + fast) runs
    python benchmarks/images.py --accuracy --recipes fmnist-94 --threads 0 --first-seed 3   # seeds 3-5
    python benchmarks/images.py --efficiency [--repeats 3]    # a minute or two: MACs/s vs the matmul peak
    python benchmarks/images.py --steady [--repeats 3]        # a few minutes: images/s quiet vs one busy core
    python benchmarks/images.py --render                       # results/images.json -> results/images.md

--throughput: images/second of training (forward, loss, backward, step; no evaluation) for LeNet-5
and the fast net, nnstudy's pipeline (`train.fit`: the whole set as uint8 tensors, batches indexed
and normalised in one op) against the conventional one of pytorch/examples mnist (torchvision's
FashionMNIST over the same IDX files, ToTensor + Normalize per image, a DataLoader with its CPU
settings: no workers), same model, batch size, optimizer and images, interleaved in one process,
medians of --repeats; and the fast net with 1 vs 2 threads. Also each pipeline's data side alone
(no model) and, from it, the ceiling on the ratio: a pipeline can at most remove the data cost,
so (model + conventional data) / (model + nnstudy data) bounds what any faster loading can show.
--accuracy: `nnstudy train --recipe R --seed S` in a subprocess per seed for fmnist-lenet5 and
fmnist-fast (--recipes to choose): test accuracy, training-loop wall time, the child's CPU time and
peak resident memory (getrusage of the child), medians over seeds, and each recipe's verdict on
issue 21's first target (>= 0.940 test in <= 300 s of training, <= 2 GB; shown for every recipe).
--efficiency: how close a training step comes to this machine's limit: each recipe's step (its
model, batch, optimizer, amp and memory format, through train.fit on --images images; RECIPE:MODEL
for the recipe on another net, e.g. fmnist-94:convnet-fast, the net convnet-pooled replaced) in
multiply-adds per second, 3x the forward pass's multiply-adds per image (forward, and backward's two
products of the same size) times images/s, beside the peak of a large torch.mm (2048 x 2048) in
float32 and bfloat16 in the same process and threads, and the fraction of the peak of the step's
dtype; at 1 and 2 threads, medians of --repeats, alternating.
--steady: a recipe's training images/s (--recipes' first; train.fit on --images images, one
process per measurement) on a quiet machine and with one core kept busy by a spinning process this
script starts and stops, for torch's defaults (one thread per core, OpenMP's default wait policy:
spin, then sleep), fixed 1 and 2 threads, and nnstudy's choice (auto_threads, OMP_WAIT_POLICY=PASSIVE);
medians of --repeats, alternating; the drop is quiet / busy images/s (issue 21: <= 1.5x).
Each part merges its numbers into results/images.json (with the command, load average, threads
and versions) and re-renders results/images.md, so parts can run at different times.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.data.vision import SETS, locate
from nnstudy.models import build_model
from nnstudy.recipes import RECIPES, resolve
from nnstudy.store import cpu_name
from nnstudy.train import fit

RESULTS = Path(__file__).parent / "results"
MODELS = {"LeNet-5": "fmnist-lenet5", "fast net": "fmnist-fast"}  # label -> recipe (model, batch, optimizer)


def conditions() -> dict:
    return {"when": time.strftime("%Y-%m-%d %H:%M"), "load_avg": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
            "cpu": cpu_name(), "command": " ".join(["python", *sys.argv])}


# -- throughput ------------------------------------------------------------------------------------
def torchvision_root(tmp: Path) -> Path:
    """torchvision's FashionMNIST layout (uncompressed IDX in FashionMNIST/raw/) over the same files."""
    files = locate("fashion-mnist", TrainConfig(dataset="fashion-mnist"))
    raw = tmp / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for p in files.values():
        dest = raw / p.name.removesuffix(".gz")
        with (gzip.open(p) if p.suffix == ".gz" else open(p, "rb")) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
    return tmp


def conventional_loader(root: Path, cfg: TrainConfig, n: int, mean: float, std: float):
    """pytorch/examples mnist's data pipeline on the first n training images: torchvision's dataset,
    ToTensor + Normalize per image, a shuffling DataLoader (one worker and pinned memory on CUDA)."""
    from torchvision import datasets, transforms

    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    ds = torch.utils.data.Subset(datasets.FashionMNIST(str(root), train=True, download=False, transform=tf),
                                 range(n))
    cuda = dict(num_workers=1, pin_memory=True) if torch.device(cfg.device).type == "cuda" else {}  # pytorch/examples
    return torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, **cuda)


def conventional(root: Path, cfg: TrainConfig, n: int, mean: float, std: float) -> float:
    """pytorch/examples mnist's pipeline on n images; returns seconds for one pass."""
    loader = conventional_loader(root, cfg, n, mean, std)
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, (1, 28, 28), 10).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9) if cfg.optimizer == "sgd" \
        else torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model.train()
    t0 = time.perf_counter()
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        opt.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def conventional_data(root: Path, cfg: TrainConfig, n: int, mean: float, std: float) -> float:
    """The conventional pipeline's data side alone: one pass of its DataLoader, no model."""
    loader = conventional_loader(root, cfg, n, mean, std)
    t0 = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - t0


def ours_data(cfg: TrainConfig, data) -> float:
    """nnstudy's data side alone, as fit does it: a permutation, then per batch an index and prepare."""
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    g = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    order = torch.randperm(len(data.x_train), generator=g)
    for b in range(0, len(order), cfg.batch_size):
        idx = order[b:b + cfg.batch_size]
        data.prepare(data.x_train[idx], True, g, cfg.augment), data.y_train[idx]
    return time.perf_counter() - t0


def time_split(r: dict) -> dict:
    """µs per image of each pipeline's data side (timed alone) and model step (its whole loop minus its
    data side), (nnstudy, conventional); and the model step nnstudy would need for a 3x ratio."""
    med = {k: statistics.median(v) for k, v in r["all"].items()}
    data = (1e6 / med["nnstudy_data"], 1e6 / med["conventional_data"])
    model = (1e6 / med["nnstudy"] - data[0], 1e6 / med["conventional"] - data[1])
    return {"data": data, "model": model, "model_for_3x": 1e6 / med["conventional"] / 3 - data[0]}


def ours(cfg: TrainConfig, data) -> float:
    """nnstudy's loop (train.fit) on the same images; seconds of the training loop alone."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, data.input_shape, data.num_classes)
    return fit(model, data, cfg).seconds


def throughput(repeats: int, n: int, threads: int, device: str = "cpu") -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        for label, recipe in MODELS.items():
            base = resolve(recipe, flags=dict(epochs=1, train_subset=n, test_subset=100, val_frac=0.0, augment=False,
                                              tta=False, schedule="constant", label_smoothing=0.0, checkpoint=False,
                                              threads=threads, device=device, amp="off"))
            data = load_dataset(base)
            m, s = data.mean[0], data.std[0]
            rows = {"nnstudy": [], "conventional": [], "nnstudy_data": [], "conventional_data": []}
            for _ in range(repeats):  # interleaved: both see the same machine load
                rows["nnstudy"].append(n / ours(base, data))
                rows["conventional"].append(n / conventional(root, base, n, m, s))
                rows["nnstudy_data"].append(n / ours_data(base, data))
                rows["conventional_data"].append(n / conventional_data(root, base, n, m, s))
            med = {k: statistics.median(v) for k, v in rows.items()}
            out[label] = {"batch": base.batch_size, "images": n, "repeats": repeats, "model": base.model,
                          "threads": threads,
                          "nnstudy_img_s": med["nnstudy"], "conventional_img_s": med["conventional"],
                          "ratio": med["nnstudy"] / med["conventional"], "all": rows}
            split = time_split(out[label])
            print(f"{label:<9} nnstudy {med['nnstudy']:8.0f} img/s   conventional {med['conventional']:8.0f} img/s"
                  f"   ratio {med['nnstudy'] / med['conventional']:.2f}x   µs/image data {split['data'][0]:.1f} vs "
                  f"{split['data'][1]:.1f}, model step {split['model'][0]:.0f} vs {split['model'][1]:.0f}", flush=True)
        fast = resolve("fmnist-fast", flags=dict(epochs=1, train_subset=n, test_subset=100, val_frac=0.0,
                                                 checkpoint=False, device=device))
        data = load_dataset(fast)
        per = {1: [], 2: []}
        for _ in range(repeats):
            for t in per:
                per[t].append(n / ours(fast.replace(threads=t), data))
        out["threads"] = {str(t): statistics.median(v) for t, v in per.items()}
        print(f"fast net (recipe, augmented) 1 thread {out['threads']['1']:.0f} img/s, "
              f"2 threads {out['threads']['2']:.0f} img/s", flush=True)
    torch.set_num_threads(os.cpu_count() or 1)
    return out


# -- accuracy ----------------------------------------------------------------------------------------
def run_recipe(recipe: str, seed: int, out: Path, threads: int) -> dict:
    """One `nnstudy train` in a child process: its summary plus the child's CPU time and peak RSS."""
    cmd = [sys.executable, "-m", "nnstudy", "train", "--recipe", recipe, "--seed", str(seed), "--json",
           "--no-figures", "--out", str(out)] + (["--threads", str(threads)] if threads else [])
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{recipe}-{seed}.log", "w+") as log:  # the per-epoch lines: validation accuracy vs time
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        stdout = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        epochs = [line.strip() for line in log if line.startswith("epoch ")]
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit status {p.returncode}")
    s = json.loads(stdout)
    row = {"seed": seed, "test_acc": s["final"]["test_acc"], "val_acc": s["final"].get("val_acc"),
           "train_seconds": s["train_seconds"], "wall_seconds": time.perf_counter() - t0,
           "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024, "epochs": epochs}
    print(f"{recipe} seed {seed}: test {row['test_acc']:.4f}, training {row['train_seconds']:.0f} s wall, "
          f"{row['cpu_seconds']:.0f} s CPU, peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
    return row


def accuracy(seeds: int, recipes: list[str], threads: int, jobs: int = 1, first_seed: int = 0) -> dict:
    """Seeds first_seed .. first_seed + seeds - 1 of each recipe, stored under the recipe's name (or,
    from another first seed, "RECIPE, seeds A-B", beside it). jobs > 1: that many seeds side by side
    (each child then shares the cores: its accuracy is the same, its wall time is not a quiet
    machine's; its CPU time still is)."""
    from concurrent.futures import ThreadPoolExecutor

    out = {}
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max(1, jobs)) as pool:
        for recipe in recipes:
            args = [(recipe, s, Path(tmp) / str(s), threads) for s in range(first_seed, first_seed + seeds)]
            rows = list(pool.map(lambda a: run_recipe(*a), args))
            med = {k: statistics.median(r[k] for r in rows) for k in
                   ("test_acc", "train_seconds", "cpu_seconds", "peak_rss_mb")}
            key = recipe if first_seed == 0 else f"{recipe}, seeds {first_seed}-{first_seed + seeds - 1}"
            out[key] = {"runs": rows, "median": med, "target": RECIPES[recipe].target, "conditions": conditions(),
                           "target_1": meets_target_1(med), "jobs": jobs}
            print(f"{recipe}: median test {med['test_acc']:.4f}, training {med['train_seconds']:.0f} s, peak RSS "
                  f"{med['peak_rss_mb']:.0f} MB: issue 21 target 1 (>= 0.940 in <= 300 s, <= 2 GB) "
                  f"{'met' if out[key]['target_1'] else 'not met'}", flush=True)
    return out


# -- efficiency --------------------------------------------------------------------------------------
TARGET_1 = dict(test_acc=0.940, train_seconds=300, peak_rss_mb=2048)  # issue 21: 94% in 5 min, <= 2 GB


def meets_target_1(median: dict) -> bool:
    return (median["test_acc"] >= TARGET_1["test_acc"] and median["train_seconds"] <= TARGET_1["train_seconds"]
            and median["peak_rss_mb"] <= TARGET_1["peak_rss_mb"])


def matmul_peak(threads: int, dtype: torch.dtype, n: int = 2048, seconds: float = 1.0) -> float:
    """Multiply-adds per second of a large torch.mm (n x n by n x n: n**3 of them) on `threads`."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)  # warm-up: packing buffers, oneDNN's kernel choice
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        k += 1
    return k * n ** 3 / (time.perf_counter() - t0)


def step_rate(recipe: str, threads: int, n: int) -> float:
    """Training images/s of a recipe's step (augmentation included) via train.fit, one epoch of n images.
    recipe may be RECIPE:MODEL, the recipe on another model (fmnist-94:convnet-fast, its old net)."""
    name, _, model = recipe.partition(":")
    cfg = resolve(name, flags=dict(epochs=1, steps=0, train_subset=n, test_subset=100, val_frac=0.0,
                                   checkpoint=False, threads=threads, device="cpu", auto_threads=False,
                                   **({"model": model} if model else {})))
    return n / ours(cfg, load_dataset(cfg))


def efficiency(recipes: list[str], repeats: int, n: int) -> dict:
    from nnstudy.plan import cpu_has_native_bf16
    from nnstudy.recipes import summary_for

    def dtype(amp: str) -> str:
        return "bf16" if amp == "bf16" or amp == "native" and cpu_has_native_bf16() else "fp32"

    info = {r: (summary_for(r.partition(":")[2] or r)[0].macs, dtype(resolve(r.partition(":")[0]).amp))
            for r in recipes}
    out = {}
    for threads in (1, 2):
        peaks = {"fp32": [], "bf16": []}
        rates = {r: [] for r in recipes}
        for _ in range(repeats):  # alternating: the peak and the steps see the same load
            peaks["fp32"].append(matmul_peak(threads, torch.float32))
            peaks["bf16"].append(matmul_peak(threads, torch.bfloat16))
            for r in recipes:
                rates[r].append(step_rate(r, threads, n))
        peak = {k: statistics.median(v) for k, v in peaks.items()}
        row = {"peak_macs_s": peak, "recipes": {}}
        for r in recipes:
            macs, dtype = info[r]
            img_s = statistics.median(rates[r])
            achieved = 3 * macs * img_s
            row["recipes"][r] = {"img_s": img_s, "forward_macs": macs, "dtype": dtype, "macs_s": achieved,
                                 "fraction": achieved / peak[dtype]}
            print(f"{threads} thread(s) {r:<14} {img_s:7.0f} img/s  {achieved / 1e9:6.1f} GMAC/s ({dtype}) "
                  f"= {achieved / peak[dtype]:.1%} of torch.mm's {peak[dtype] / 1e9:.0f} GMAC/s", flush=True)
        out[str(threads)] = row
    torch.set_num_threads(os.cpu_count() or 1)
    return out


# -- steady under load -------------------------------------------------------------------------------
STEADY_CHILD = r'''
import sys, time
recipe, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "torch":  # OpenMP's default wait policy: torch (and OpenMP) load before nnstudy could set it
    import os
    os.environ.pop("OMP_WAIT_POLICY", None)
    import torch
from nnstudy.data import load_dataset
from nnstudy.models import build_model
from nnstudy.recipes import resolve
from nnstudy.train import fit
import torch
threads = {"torch": 0, "1": 1, "2": 2, "nnstudy": 0}[mode]
cfg = resolve(recipe, flags=dict(epochs=1, train_subset=n, test_subset=100, val_frac=0.0, checkpoint=False,
                                 device="cpu", threads=threads, auto_threads=mode == "nnstudy"))
data = load_dataset(cfg)
torch.manual_seed(0)
res = fit(build_model(cfg, data.input_shape, data.num_classes), data, cfg)
print(n / res.seconds)
'''
STEADY_MODES = {"torch": "torch's defaults", "1": "1 thread (PASSIVE)", "2": "2 threads (PASSIVE)",
                "nnstudy": "nnstudy (auto_threads, PASSIVE)",
                "pair": "ceiling: two 1-thread processes, each half the images, never waiting on each other"}
# "pair" is no setting a run can use (its two halves never exchange gradients); it measures what the
# scheduler gives work that never synchronises: with a third process spinning, two cores shared
# three ways leave it 2/3 of its quiet rate at best, a 1.5x drop, so any real 2-thread step, which
# waits for both threads at every op, drops more. It is the ceiling issue 21's third target meets.


def steady_rate(recipe: str, n: int, mode: str) -> float:
    if mode == "pair":  # both children start together; their rates add while both run
        return sum(steady_children(recipe, n // 2, "1", 2))
    return steady_children(recipe, n, mode, 1)[0]


def steady_children(recipe: str, n: int, mode: str, count: int) -> list[float]:
    procs = [subprocess.Popen([sys.executable, "-c", STEADY_CHILD, recipe, str(n), mode], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(count)]
    rates = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"steady child ({mode}) failed:\n{err[-2000:]}")
        rates.append(float(out.strip().splitlines()[-1]))
    return rates


class BusyCore:
    """A spinning process for the block's duration: one core kept busy, as by another program."""

    def __enter__(self):
        self.p = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()


def steady(recipe: str, repeats: int, n: int) -> dict:
    rows = {c: {m: [] for m in STEADY_MODES} for c in ("quiet", "busy")}
    for _ in range(repeats):
        for cond in rows:
            with BusyCore() if cond == "busy" else contextlib.nullcontext():
                for mode in STEADY_MODES:
                    rows[cond][mode].append(steady_rate(recipe, n, mode))
    med = {c: {m: statistics.median(v) for m, v in r.items()} for c, r in rows.items()}
    best_quiet = max(v for m, v in med["quiet"].items() if m != "pair")  # the best setting a run can have
    for m, label in STEADY_MODES.items():
        print(f"{label:<34} quiet {med['quiet'][m]:6.0f} img/s, one core busy {med['busy'][m]:6.0f} img/s: "
              f"drop {med['quiet'][m] / med['busy'][m]:.2f}x (vs the best quiet setting "
              f"{best_quiet / med['busy'][m]:.2f}x)", flush=True)
    return {"recipe": recipe, "images": n, "repeats": repeats, "median": med, "all": rows}


# -- results -----------------------------------------------------------------------------------------
def render(res: dict) -> str:
    lines = ["# Fashion-MNIST on the CPU (benchmarks/images.py)", "",
             "Numbers from a shared 2-core machine: see each part's load average; on an idle machine wall "
             "times are shorter (CPU seconds / 2 is a floor for 2 threads).", ""]
    for key in [k for k in res if k.startswith("throughput")]:
        t = res[key]
        c = t["conditions"]
        where = "" if key == "throughput" else f", {key.split('_', 1)[1]}"
        lines += [f"## Training throughput{where} (images/s, median of interleaved repeats)", "",
                  f"`{c['command']}` at {c['when']}, load average {c['load_avg']}, {c['cpus']} CPUs, "
                  f"torch {c['torch']}.", "",
                  "| model | batch | threads | nnstudy | conventional (torchvision + DataLoader) | ratio |",
                  "|---|---|---|---|---|---|"]
        for label in MODELS:
            r = t[label]
            lines.append(f"| {label} ({r['model']}) | {r['batch']} | {r.get('threads', '')} | "
                         f"{r['nnstudy_img_s']:.0f} | {r['conventional_img_s']:.0f} | {r['ratio']:.2f}x |")
        if all("nnstudy_data" in t[label]["all"] for label in MODELS):
            lines += ["", "Where the time goes (µs per training image): each pipeline's data side timed alone "
                      "(nnstudy: index and normalise a batch of the in-memory uint8 tensor; conventional: a "
                      "DataLoader pass with ToTensor + Normalize, no model) and its model step (forward, loss, "
                      "backward, update: the whole loop minus the data side). nnstudy's step is faster for the "
                      "same model through foreach optimizers and, for the fast net, channels_last.", "",
                      "| model | data: nnstudy | data: conventional | model step: nnstudy | "
                      "model step: conventional | nnstudy's model step for 3x |",
                      "|---|---|---|---|---|---|"]
            for label in MODELS:
                sp = time_split(t[label])
                lines.append(f"| {label} | {sp['data'][0]:.1f} | {sp['data'][1]:.1f} | {sp['model'][0]:.0f} | "
                             f"{sp['model'][1]:.0f} | {sp['model_for_3x']:.0f} |")
        lines += ["", f"fast net, recipe as trained (augmented): 1 thread {t['threads']['1']:.0f} img/s, "
                  f"2 threads {t['threads']['2']:.0f} img/s.", ""]
    if "accuracy" in res:
        lines += ["## Recipes over seeds (medians; threads as the command says: 0 is the recipe's own choice)", "",
                  "| recipe | seeds | test acc (median) | per seed | training wall s | CPU s | peak RSS MB | target | "
                  ">= 0.940 in <= 300 s, <= 2 GB |", "|---|---|---|---|---|---|---|---|---|"]
        for recipe, r in res["accuracy"].items():
            m = r["median"]
            per = ", ".join(f"{x['test_acc']:.4f}" for x in r["runs"])
            verdict = {True: "met", False: "not met"}.get(r.get("target_1", meets_target_1(m)))
            lines.append(f"| {recipe} | {len(r['runs'])} | {m['test_acc']:.4f} | {per} | {m['train_seconds']:.0f} | "
                         f"{m['cpu_seconds']:.0f} | {m['peak_rss_mb']:.0f} | {r['target']} | {verdict} |")
        lines += [""] + [f"- {k}: `{r['conditions']['command']}`, finished {r['conditions']['when']}, load average "
                         f"then {r['conditions']['load_avg']}" for k, r in res["accuracy"].items()] + [""]
    if "steady" in res:
        st = res["steady"]
        c, med = st["conditions"], st["median"]
        best_quiet = max(v for m, v in med["quiet"].items() if m != "pair")
        lines += ["## Steady under load (training images/s, median of alternating repeats)", "",
                  f"`{c['command']}` at {c['when']}, {c['cpu']}, load average {c['load_avg']}; recipe {st['recipe']}, "
                  f"{st['images']} images a measurement, busy: one Python `while True` process beside it.", "",
                  "| threads and wait policy | quiet | one core busy | drop | drop vs the best quiet setting |",
                  "|---|---|---|---|---|"]
        for m, label in ((m, label) for m, label in STEADY_MODES.items() if m in med["quiet"]):
            lines.append(f"| {label} | {med['quiet'][m]:.0f} | {med['busy'][m]:.0f} | "
                         f"{med['quiet'][m] / med['busy'][m]:.2f}x | {best_quiet / med['busy'][m]:.2f}x |")
        lines.append("")
    if "efficiency" in res:
        e = res["efficiency"]
        c = e["conditions"]
        lines += ["## How close a training step comes to the machine's limit", "",
                  f"`{c['command']}` at {c['when']}, {c['cpu']}, load average {c['load_avg']}. Achieved "
                  "multiply-adds/s of a training step = 3 x the forward pass's multiply-adds per image x images/s; "
                  "the peak is a 2048 x 2048 torch.mm in the same process, same threads, in the step's dtype.", "",
                  "| threads | recipe | dtype | images/s | GMAC/s achieved | torch.mm peak GMAC/s | fraction |",
                  "|---|---|---|---|---|---|---|"]
        for threads, row in e.items():
            if threads == "conditions":
                continue
            for r, v in row["recipes"].items():
                lines.append(f"| {threads} | {r} | {v['dtype']} | {v['img_s']:.0f} | {v['macs_s'] / 1e9:.1f} | "
                             f"{row['peak_macs_s'][v['dtype']] / 1e9:.0f} | {v['fraction']:.1%} |")
        lines.append("")
    for note in res.get("notes", []):  # single measurements added by hand, each with its command and conditions
        lines += [f"- {note}"]
    lines += ["", "Published (anchors.md): zalandoresearch benchmark 2 conv layers <100K params 0.925, 2 conv + 2 FC "
              "with flips 0.939, ResNet18 0.949; d2l LeNet (sigmoid) 10 epochs 0.779.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--throughput", action="store_true")
    ap.add_argument("--accuracy", action="store_true")
    ap.add_argument("--efficiency", action="store_true")
    ap.add_argument("--steady", action="store_true")
    ap.add_argument("--render", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--images", type=int, default=6000, help="images per throughput pass")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for both pipelines and for the recipe runs (0: torch's default)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (gpu.sh): both pipelines on it, no autocast")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="--accuracy: seeds from this one on")
    ap.add_argument("--jobs", type=int, default=1, help="--accuracy: seeds run side by side (times then share cores)")
    ap.add_argument("--recipes", default="fmnist-lenet5,fmnist-fast")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "images.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    if args.throughput:
        key = "throughput" if args.device == "cpu" else f"throughput_{args.device}"
        res[key] = {**throughput(args.repeats, args.images, args.threads, args.device), "conditions": conditions()}
    if args.accuracy:
        res.setdefault("accuracy", {}).update(accuracy(args.seeds, args.recipes.split(","), args.threads, args.jobs,
                                                     args.first_seed))
    if args.steady:
        res["steady"] = {**steady(args.recipes.split(",")[0], args.repeats, args.images), "conditions": conditions()}
    if args.efficiency:
        res["efficiency"] = {**efficiency(args.recipes.split(","), args.repeats, args.images),
                             "conditions": conditions()}
    now = json.loads(path.read_text()) if path.exists() else {}  # parts run meanwhile by another process
    acc = {**now.get("accuracy", {}), **res.get("accuracy", {})}
    res = {**now, **{k: v for k, v in res.items() if k != "accuracy"}, **({"accuracy": acc} if acc else {})}
    path.write_text(json.dumps(res, indent=2))
    md = render(res)
    (RESULTS / "images.md").write_text(md)
    print(md)


if __name__ == "__main__":
    assert SETS  # the loaders are importable: fail here, not halfway through a long run
    main()
