"""Q1 of the week: what are AlexNet's features, and why does it beat LeNet?

The week's answer names three ideas: depth, ReLU (cheap, easier to train) and dropout (against
overfitting). This study trains LeNet-5 as published (sigmoid, average pooling), LeNet-5 with
modern parts (ReLU, max pooling, batch norm) and AlexNet scaled to 28 px on Fashion-MNIST (and on
CIFAR-10 when it is present), all with the same optimizer, batch size and budget of images, then
takes AlexNet's ideas away one at a time: ReLU → sigmoid, ReLU → tanh, dropout off, 5 → 3 conv
layers. For each: held-out accuracy (mean ± std over seeds), the train-test gap, training and
inference throughput (images/s, measured side by side in one process), multiply-adds per image,
and images and seconds until the validation accuracy first reaches a target.

CPU budgets are small (AlexNet at 28 px costs 16M multiply-adds per image): the default profile
measures the early phase of training, where "easier to train" shows directly; `full` trains long
enough for the final accuracies to mean something.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from nnstudy.config import TrainConfig
from nnstudy.errors import DataError
from nnstudy.models import build_model
from nnstudy.models.summary import summarize
from nnstudy.studies import (
    QUESTIONS,
    Entry,
    Profile,
    Study,
    StudyContext,
    fmt_ms,
    mean_std,
    register_study,
    train_test_gap,
)
from nnstudy.threads import torch_threads

# (key, label, model, activation): the first three are the comparison, the rest AlexNet's ablations.
VARIANTS = [
    # Named by what they are: d2l's LeNet-5 (not LeCun et al. 1998's scaled tanh, trainable subsampling,
    # C3 table and RBF outputs), and an AlexNet-style net scaled to 28-32 px images (5 convs, overlapping
    # max pooling, dropout; not the 2012 ImageNet model's 60M parameters, LRN or two-GPU split).
    ("lenet5", "LeNet-5, d2l's variant (sigmoid, avg pool)", "lenet5", "sigmoid"),
    ("lenet5-modern", "LeNet-5 modern (ReLU, max pool, BN)", "lenet5-modern", "relu"),
    ("alexnet", "AlexNet-style small net (ReLU, dropout, 5 convs)", "alexnet", "relu"),
    ("alexnet-sigmoid", "AlexNet, ReLU → sigmoid", "alexnet", "sigmoid"),
    ("alexnet-tanh", "AlexNet, ReLU → tanh", "alexnet", "tanh"),
    ("alexnet-nodrop", "AlexNet, dropout off", "alexnet-nodrop", "relu"),
    ("alexnet-shallow", "AlexNet, 3 convs instead of 5", "alexnet-shallow", "relu"),
]
ABLATIONS = ("alexnet-sigmoid", "alexnet-tanh", "alexnet-nodrop", "alexnet-shallow")
MAIN = ("lenet5", "lenet5-modern", "alexnet")  # the ones also trained on CIFAR-10
@dataclass(frozen=True)
class LeNetAlexNetProfile(Profile):
    train: int  # training images (a fixed subset, data_seed 0; 0: all), VAL_FRAC of them validate
    test: int  # the fixed test images every run is scored on (0: all)
    epochs: int  # epochs of `batch` images
    batch: int  # batch size
    eval_every: int  # steps between validations
    val_acc_target: float  # the validation accuracy that counts as reached
    probe: int  # timed steps per model (throughput)
    # torch CPU threads (0: torch's default; on a shared CPU two threads wait for each other;
    # benchmarks/results/notes.md)
    threads: int


PROFILES = {
    "quick": LeNetAlexNetProfile(train=160, test=200, epochs=1, batch=16, eval_every=3, val_acc_target=0.3, probe=2,
                                 threads=1),
    "default": LeNetAlexNetProfile(train=5500, test=2000, epochs=1, batch=32, eval_every=31, val_acc_target=0.7,
                                   probe=4, threads=1),
    "full": LeNetAlexNetProfile(train=0, test=0, epochs=10, batch=128, eval_every=100, val_acc_target=0.85, probe=10,
                                threads=0),
}
VAL_FRAC = 0.1
SEEDS = {"quick": 2, "default": 3, "full": 5}


def config(p: dict, dataset: str, model: str, activation: str, seed: int) -> TrainConfig:
    """Same optimizer (Adam, lr 1e-3), batch size and images for every variant; seeds vary the
    initialisation and batch order, never the data."""
    return TrainConfig(dataset=dataset, model=model, activation=activation, train_subset=p["train"],
                       test_subset=p["test"], val_frac=VAL_FRAC, data_seed=0, seed=seed, optimizer="adam",
                       lr=1e-3, epochs=p["epochs"], batch_size=p["batch"], eval_every=p["eval_every"],
                       threads=p["threads"], checkpoint=False)


def cifar_missing(p: dict) -> str | None:
    """Why CIFAR-10 cannot be used here (None: it loads)."""
    from nnstudy.data import load_dataset

    try:
        load_dataset(config(p, "cifar10", "lenet5", "sigmoid", 0))
    except DataError as e:
        return str(e)
    return None


def probe_speed(variants: list[tuple], in_shape: tuple, batch: int, steps: int) -> dict[str, dict]:
    """Training images/s (forward, loss, backward, Adam step on one batch) and inference images/s
    of each variant, measured round-robin so a change in the machine's load hits all of them
    alike; medians of `steps` timings after one warm-up. Also multiply-adds per image."""
    torch.manual_seed(0)
    x = torch.randn(batch, *in_shape)  # (B, C, H, W): content does not change the cost
    y = torch.randint(0, 10, (batch,))
    nets = {}
    for key, _, model, act in variants:
        net = build_model(TrainConfig(model=model, activation=act), in_shape, 10)
        nets[key] = (net, torch.optim.Adam(net.parameters(), lr=1e-3))
    train_t = {k: [] for k in nets}
    eval_t = {k: [] for k in nets}
    for rep in range(steps + 1):
        for key, (net, opt) in nets.items():
            t0 = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(net.train()(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            t1 = time.perf_counter()
            with torch.no_grad():
                net.eval()(x)
            t2 = time.perf_counter()
            if rep:  # the first round warms up allocators and kernels
                train_t[key].append(t1 - t0)
                eval_t[key].append(t2 - t1)
    return {k: {"train_img_per_s": batch / statistics.median(train_t[k]),
                "eval_img_per_s": batch / statistics.median(eval_t[k]),
                "macs": summarize(net, in_shape).macs, "params": sum(q.numel() for q in net.parameters())}
            for k, (net, _) in nets.items()}


def first_val_step(records: list[tuple], target: float) -> int | None:
    hits = [s for s, sp, name, v in records if sp == "val" and name == "acc" and v is not None and v >= target]
    return min(hits) if hits else None


def train_variants(ctx: StudyContext, p: dict, dataset: str, variants: list[tuple]) -> list[dict]:
    """Each variant over ctx.seeds; one JSON-able row per variant."""
    rows = []
    for key, label, model, act in variants:
        runs = [ctx.train(config(p, dataset, model, act, s), f"{dataset} {key} seed {s}") for s in ctx.seeds]
        stored = ctx.store.get(runs[0].run_id)["summary"]  # n_train, n_test: what the subsets left
        ok = [r for r in runs if r.status == "complete"]
        hits = [(first_val_step(r.records, p["val_acc_target"]), r) for r in ok]
        reached = [(h, r) for h, r in hits if h is not None]
        rows.append({
            "key": key, "label": label, "model": model, "activation": act, "params": runs[0].params,
            "images": {k: stored.get(f"n_{k}") for k in ("train", "test")},
            "train_acc": mean_std(r.final.get("train_acc") for r in ok),
            "test_acc": mean_std(r.final.get("test_acc") for r in ok),
            "gap": mean_std(train_test_gap(r.final) for r in ok),
            "seconds": mean_std(r.seconds for r in ok),
            "reached": len(reached), "n": len(ok), "diverged": len(runs) - len(ok),
            # images seen, and wall seconds of that run (validation included), at the first hit
            "images_to_target": mean_std(h * p["batch"] for h, _ in reached),
            "seconds_to_target": mean_std(r.seconds * h / max(1, r.steps) for h, r in reached),
            "runs": [r.run_id for r in runs]})
    return rows


def ablation_effects(rows: list[dict], speed: dict) -> list[dict]:
    """What each of AlexNet's ideas buys: AlexNet minus the ablation (accuracy), and AlexNet's
    training throughput over the ablation's (> 1: the idea makes training faster per image)."""
    base = next(r for r in rows if r["key"] == "alexnet")
    out = []
    for r in (r for r in rows if r["key"] in ABLATIONS):
        out.append({"key": r["key"], "label": r["label"],
                    "acc_bought": base["test_acc"]["mean"] - r["test_acc"]["mean"],
                    "gap_change": base["gap"]["mean"] - r["gap"]["mean"],
                    "speed_ratio": speed["alexnet"]["train_img_per_s"] / speed[r["key"]]["train_img_per_s"],
                    "reached": r["reached"], "n": r["n"]})
    return out


def terminal_table(rows: list[dict], speed: dict, dataset: str) -> list[dict]:
    return [{"data": dataset, "model": r["label"], "params": r["params"],
             "held-out acc": fmt_ms(r["test_acc"]), "train-test gap": fmt_ms(r["gap"]),
             "train img/s": f"{speed[r['key']]['train_img_per_s']:.0f}" if r["key"] in speed else "",
             "MMACs/img": f"{speed[r['key']]['macs'] / 1e6:.2f}" if r["key"] in speed else "",
             "reached target": f"{r['reached']}/{r['n']}",
             "images to target": fmt_ms(r["images_to_target"], 0)} for r in rows]


@register_study
class LeNetAlexNetStudy(Study):
    name = "lenet-alexnet"
    title = "Q1. What are AlexNet's features, and why does it beat LeNet?"
    help = ("Q1 why does AlexNet beat LeNet? LeNet-5 classic/modern vs AlexNet on "
            "Fashion-MNIST (CIFAR-10 if present), AlexNet's ideas ablated one at a time")
    entries = (Entry(QUESTIONS, 1, "Q1. What are AlexNet's features, and why does it beat LeNet?",
                     "\u201cAlexNet is deeper; it uses ReLU, which is cheaper and makes the model easier to train "
                     "under different initialisations; it uses dropout against overfitting.\u201d"),)
    default_seeds = SEEDS

    def run(self, ctx: StudyContext) -> dict:
        p = PROFILES[ctx.profile]
        with torch_threads(p["threads"]):  # the speed probe measures what the runs will get
            ctx.log("lenet-alexnet (1/3): throughput of each model, side by side")
            speed = probe_speed(VARIANTS, (1, 28, 28), p["batch"], p["probe"])
            ctx.log("lenet-alexnet (2/3): LeNet-5, LeNet-5 modern, AlexNet and its ablations on Fashion-MNIST")
            fashion = train_variants(ctx, p, "fashion-mnist", VARIANTS)
            missing = cifar_missing(p)
            cifar = []
            if missing is None:
                ctx.log("lenet-alexnet (3/3): LeNet-5, LeNet-5 modern and AlexNet on CIFAR-10")
                cifar = train_variants(ctx, p, "cifar10", [v for v in VARIANTS if v[0] in MAIN])
            else:
                ctx.log(f"lenet-alexnet (3/3): CIFAR-10 skipped: {missing}")
        table = terminal_table(fashion, speed, "Fashion-MNIST") + terminal_table(cifar, {}, "CIFAR-10")
        return {"fashion": fashion, "cifar": cifar, "cifar_skipped": missing, "speed": speed,
                "ablations": ablation_effects(fashion, speed), "val_acc_target": p["val_acc_target"],
                "settings": {**p, "val_frac": VAL_FRAC, "optimizer": "adam", "lr": 1e-3}, "table": table}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.lenet_alexnet.figures import draw_lenet_alexnet

        return draw_lenet_alexnet(store, run, folder)

    def section(self, store, run):
        from nnstudy.studies.lenet_alexnet.report import lenet_alexnet_section

        return lenet_alexnet_section(store, run, self.title)
