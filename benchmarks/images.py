"""Fashion-MNIST on the CPU: training throughput, peak memory, and the recipes' accuracy and time.

    python benchmarks/images.py --throughput [--repeats 5]    # a few minutes
    python benchmarks/images.py --accuracy [--seeds 3]        # real CPU time: ~3 x (lenet5 + fast) runs
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
fmnist-fast: test accuracy, training-loop wall time, the child's CPU time and peak resident memory
(getrusage of the child). Medians over seeds.
Each part merges its numbers into results/images.json (with the command, load average, threads
and versions) and re-renders results/images.md, so parts can run at different times.
"""

from __future__ import annotations

import argparse
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
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    stdout = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit status {p.returncode}")
    s = json.loads(stdout)
    row = {"seed": seed, "test_acc": s["final"]["test_acc"], "val_acc": s["final"].get("val_acc"),
           "train_seconds": s["train_seconds"], "wall_seconds": time.perf_counter() - t0,
           "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}
    print(f"{recipe} seed {seed}: test {row['test_acc']:.4f}, training {row['train_seconds']:.0f} s wall, "
          f"{row['cpu_seconds']:.0f} s CPU, peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
    return row


def accuracy(seeds: int, recipes: list[str], threads: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for recipe in recipes:
            rows = [run_recipe(recipe, s, Path(tmp), threads) for s in range(seeds)]
            med = {k: statistics.median(r[k] for r in rows) for k in
                   ("test_acc", "train_seconds", "cpu_seconds", "peak_rss_mb")}
            out[recipe] = {"runs": rows, "median": med, "target": RECIPES[recipe].target, "conditions": conditions()}
    return out


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
        lines += ["## Recipes over seeds (medians; --threads 1, the script's default, unless the command says)", "",
                  "| recipe | seeds | test acc (median) | per seed | training wall s | CPU s | peak RSS MB | target |",
                  "|---|---|---|---|---|---|---|---|"]
        for recipe, r in res["accuracy"].items():
            m = r["median"]
            per = ", ".join(f"{x['test_acc']:.4f}" for x in r["runs"])
            lines.append(f"| {recipe} | {len(r['runs'])} | {m['test_acc']:.4f} | {per} | {m['train_seconds']:.0f} | "
                         f"{m['cpu_seconds']:.0f} | {m['peak_rss_mb']:.0f} | {r['target']} |")
        lines += [""] + [f"- {k}: `{r['conditions']['command']}`, finished {r['conditions']['when']}, load average "
                         f"then {r['conditions']['load_avg']}" for k, r in res["accuracy"].items()] + [""]
    for note in res.get("notes", []):  # single measurements added by hand, each with its command and conditions
        lines += [f"- {note}"]
    lines += ["", "Published (anchors.md): zalandoresearch benchmark 2 conv layers <100K params 0.925, 2 conv + 2 FC "
              "with flips 0.939, ResNet18 0.949; d2l LeNet (sigmoid) 10 epochs 0.779.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--throughput", action="store_true")
    ap.add_argument("--accuracy", action="store_true")
    ap.add_argument("--render", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--images", type=int, default=6000, help="images per throughput pass")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for both pipelines and for the recipe runs (0: torch's default)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (gpu.sh): both pipelines on it, no autocast")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--recipes", default="fmnist-lenet5,fmnist-fast")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "images.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    if args.throughput:
        key = "throughput" if args.device == "cpu" else f"throughput_{args.device}"
        res[key] = {**throughput(args.repeats, args.images, args.threads, args.device), "conditions": conditions()}
    if args.accuracy:
        res.setdefault("accuracy", {}).update(accuracy(args.seeds, args.recipes.split(","), args.threads))
    path.write_text(json.dumps(res, indent=2))
    md = render(res)
    (RESULTS / "images.md").write_text(md)
    print(md)


if __name__ == "__main__":
    assert SETS  # the loaders are importable: fail here, not halfway through a long run
    main()
