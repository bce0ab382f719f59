"""Q1 of the week: what are AlexNet's features, and why does it beat LeNet?

The week's answer names three ideas: depth, ReLU (cheap, easier to train) and dropout (against
overfitting). This study trains LeNet-5 in d2l's variant (sigmoid, average pooling), LeNet-5 with
modern parts (ReLU, max pooling, batch norm) and an AlexNet-style net scaled to 28 px on
Fashion-MNIST (and on CIFAR-10 when it is present), all with the same optimizer, batch size and
training images, then takes AlexNet's ideas away one at a time: ReLU -> sigmoid, ReLU -> tanh,
dropout off, 5 -> 3 conv layers. For each: held-out accuracy (mean ± std over seeds), the
train-test gap, training and inference throughput (images/s, measured side by side in one
process), multiply-adds per image, images until the validation accuracy first reaches a target,
and updates (and seconds) until the running training error first falls to 25%: the quantity of
Krizhevsky et al. 2012's Figure 1 (ReLU six times faster than tanh on CIFAR-10), measured with
Adam on the main runs and with SGD + momentum, the paper's optimizer, on two extra nets.

Budgets (measured 2026-12-06 on this project's 2-core Intel Xeon, one thread, models side by side
in one process): the AlexNet-style net trains at about 750-1,000 images/s, LeNet-5 at 5,000-8,000
(forty times fewer multiply-adds), and evaluating runs about three times faster than training.
Five AlexNet variants x 3 seeds are 15 runs, so one pass over all 54,000 training images each (plus
the final evaluation of the training split that every run gets) would take about 20 minutes, over
this study's share of the main job (8 minutes on a quiet 2-core laptop). The batched trainer does
not help: small CNNs batched run 0.5-1.2x on this CPU (benchmarks/results/batched_cnn.md). So the
default profile trains on a fixed 9,000-image subset (1,000 more validate) for 2 epochs (18,000
images, 564 updates of 32) with the learning rate annealed to zero by a cosine schedule: every
curve flattens by the end, so the runs converge *at this budget* by verdicts.py's rule (held-out
accuracy moved under a point over the last fifth), and the report says "at this budget", not that
the nets reached what they can (at 2 epochs the AlexNet-style net reached 0.76 test accuracy, seed
0; trained fully it does over 0.9). The LeNets cost a fortieth per image, so they get 4 epochs
(36,000 images, still under a third of AlexNet's time): at 2 epochs d2l's sigmoid LeNet had moved
1.3 points over its last fifth (seed 0), at 6 it had flattened; a lead of AlexNet over them is thus
not a lead in data. Krizhevsky et al.'s SGD + momentum pair (ReLU and tanh without dropout, lr
0.01: at 0.05 neither reached 25% error within 282 updates, seed 0) costs 6 more AlexNet runs of
18,000 images. Measured (2026-12-06, `/usr/bin/time -v`): 457 s of CPU for the whole study (22 min of
wall time at 34% of a core, load average 12-17), so about 7.6 minutes on a quiet 2-core machine.
`full` trains every net on all 54,000 images (10 epochs, 20 for the LeNets, 5 seeds), sized for a
GPU; it is what settles a comparison the default leaves open.
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
LENETS = ("lenet5", "lenet5-modern")  # a fortieth of AlexNet's multiply-adds: they get `lenet_epochs`
# Krizhevsky et al. 2012, Figure 1: "no regularization of any kind" and a learning rate chosen per net;
# their figure's optimizer is not named there (the ImageNet net used SGD with momentum 0.9). So the
# ReLU / tanh pair is trained again without dropout, with SGD + momentum 0.9, beside the Adam ablation.
SGD_PAIR = [("relu-sgd", "AlexNet, no dropout, ReLU, SGD + momentum", "alexnet-nodrop", "relu"),
            ("tanh-sgd", "AlexNet, no dropout, tanh, SGD + momentum", "alexnet-nodrop", "tanh")]


@dataclass(frozen=True)
class LeNetAlexNetProfile(Profile):
    train: int  # training images (a fixed subset, data_seed 0; 0: all), VAL_FRAC of them validate
    test: int  # the fixed test images every run is scored on (0: all)
    epochs: int  # epochs of the AlexNet variants (and of the SGD pair)
    lenet_epochs: int  # epochs of the two LeNets (see the module docstring: why more)
    batch: int  # batch size
    lr: float  # Adam's peak learning rate, every variant
    schedule: str  # learning-rate schedule over each run (cosine: annealed to zero at its end)
    evals: int  # held-out evaluations per run (evenly spaced)
    val_acc_target: float  # the validation accuracy that counts as reached
    train_err_target: float  # the running training error that counts as reached (Krizhevsky et al.: 25%)
    running: int  # training images the running training error averages over (the last batches')
    sgd_lr: float  # the SGD pair's learning rate (momentum 0.9, constant; 0: no SGD pair)
    probe: int  # timed steps per model (throughput)
    # torch CPU threads (0: torch's default; on a shared CPU two threads wait for each other;
    # benchmarks/results/notes.md)
    threads: int


PROFILES = {
    "quick": LeNetAlexNetProfile(train=160, test=200, epochs=1, lenet_epochs=1, batch=16, lr=1e-3, schedule="cosine",
                                 evals=3, val_acc_target=0.3, train_err_target=0.75, running=32, sgd_lr=0.01,
                                 probe=2, threads=1),
    "default": LeNetAlexNetProfile(train=10000, test=2000, epochs=2, lenet_epochs=4, batch=32, lr=1e-3,
                                   schedule="cosine", evals=10, val_acc_target=0.7, train_err_target=0.25,
                                   running=640, sgd_lr=0.01, probe=4, threads=1),
    "full": LeNetAlexNetProfile(train=0, test=0, epochs=10, lenet_epochs=20, batch=128, lr=1e-3, schedule="cosine",
                                evals=40, val_acc_target=0.85, train_err_target=0.25, running=2560, sgd_lr=0.01,
                                probe=10, threads=0),
}
VAL_FRAC = 0.1
SEEDS = {"quick": 2, "default": 3, "full": 5}


def config(p: dict, dataset: str, model: str, activation: str, seed: int, **over) -> TrainConfig:
    """Same optimizer (Adam at p["lr"], p["schedule"]), batch size and images for every variant;
    seeds vary the initialisation and batch order, never the data. `over`: the SGD pair's fields."""
    epochs = over.pop("epochs", p["lenet_epochs"] if model.startswith("lenet5") else p["epochs"])
    evals = over.pop("evals", p["evals"])
    n_train = round((p["train"] or {"cifar10": 50000}.get(dataset, 60000)) * (1 - VAL_FRAC))
    steps = epochs * -(-n_train // p["batch"])
    fields = dict(dataset=dataset, model=model, activation=activation, train_subset=p["train"],
                  test_subset=p["test"], val_frac=VAL_FRAC, data_seed=0, seed=seed, optimizer="adam", lr=p["lr"],
                  schedule=p["schedule"], epochs=epochs, batch_size=p["batch"],
                  eval_every=max(1, steps // evals), threads=p["threads"], checkpoint=False)
    return TrainConfig(**{**fields, **over})


def sgd_config(p: dict, dataset: str, model: str, activation: str, seed: int) -> TrainConfig:
    """The pair is judged on its training error only: two held-out evaluations (start, middle) keep
    its curves drawable without paying for a validation curve nobody reads."""
    return config(p, dataset, model, activation, seed, optimizer="sgd", momentum=0.9, lr=p["sgd_lr"],
                  schedule="constant", epochs=p["epochs"], evals=2)


def cifar_missing(p: dict) -> str | None:
    """Why CIFAR-10 cannot be used here (None: it loads)."""
    from nnstudy.data import load_dataset

    try:
        load_dataset(config(p, "cifar10", "lenet5", "sigmoid", 0))
    except DataError as e:
        return str(e)
    return None


def architecture(model: str, in_shape: tuple = (1, 28, 28)) -> dict:
    """What a variant is, read off the built net (for the report's description, never typed there):
    its convolutions (channels, kernel, stride), pooling (kernel, stride), fully connected widths."""
    net = build_model(TrainConfig(model=model), in_shape, 10)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in net.modules() if isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d))]
    drops = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    return {"input": list(in_shape), "convs": len(convs), "channels": [c.out_channels for c in convs],
            "kernels": [c.kernel_size[0] for c in convs], "stride": convs[0].stride[0],
            "pool": [pools[0].kernel_size, pools[0].stride] if pools else None,
            "fc": [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)],
            "fc_layers": sum(isinstance(m, torch.nn.Linear) for m in net.modules()),
            "dropout": drops[0] if drops else 0.0, "params": sum(q.numel() for q in net.parameters())}


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


def updates_to_train_error(records: list[tuple], total: int, target_err: float, window: int) -> int | None:
    """Updates until the running training error first falls to `target_err`: the mean error of the
    last `window` training batches, each measured in the forward pass of its own update (train mode:
    dropout on), as Krizhevsky et al.'s Figure 1 plots training error while training. A batch
    recorded at step s computes update s + 1, so a crossing seen at that batch counts s + 1 updates.
    None: never within the run. The final evaluation (recorded at step = total) is not a batch."""
    acc = dict((s, v) for s, sp, name, v in records if sp == "train" and name == "acc" and s < total)
    steps = sorted(acc)
    for i in range(window - 1, len(steps)):
        if 1 - sum(acc[s] for s in steps[i - window + 1:i + 1]) / window <= target_err:
            return steps[i] + 1
    return None


def train_variants(ctx: StudyContext, p: dict, dataset: str, variants: list[tuple], make=config) -> list[dict]:
    """Each variant over ctx.seeds; one JSON-able row per variant."""
    rows = []
    window = max(1, p["running"] // p["batch"])
    for key, label, model, act in variants:
        cfgs = [make(p, dataset, model, act, s) for s in ctx.seeds]
        runs = [ctx.train(c, f"{dataset} {key} seed {s}") for c, s in zip(cfgs, ctx.seeds)]
        stored = ctx.store.get(runs[0].run_id)["summary"]  # n_train, n_test: what the subsets left
        ok = [r for r in runs if r.status == "complete"]
        hits = [(first_val_step(r.records, p["val_acc_target"]), r) for r in ok]
        reached = [(h, r) for h, r in hits if h is not None]
        # per seed, in ctx.seeds order (None: not reached, or not complete): paired ratios need the order
        err_hits = [updates_to_train_error(r.records, r.steps, p["train_err_target"], window)
                    if r.status == "complete" else None for r in runs]
        err_reached = [(h, r) for h, r in zip(err_hits, runs) if h is not None]
        rows.append({
            "key": key, "label": label, "model": model, "activation": act, "params": runs[0].params,
            "optimizer": cfgs[0].optimizer, "lr": cfgs[0].lr, "epochs": cfgs[0].epochs, "steps": runs[0].steps,
            "images": {k: stored.get(f"n_{k}") for k in ("train", "test")},
            "images_seen": runs[0].steps * p["batch"],
            "train_acc": mean_std(r.final.get("train_acc") for r in ok),
            "test_acc": mean_std(r.final.get("test_acc") for r in ok),
            "gap": mean_std(train_test_gap(r.final) for r in ok),
            "seconds": mean_std(r.seconds for r in ok),
            "reached": len(reached), "n": len(ok), "diverged": len(runs) - len(ok),
            # images seen, and wall seconds of that run (validation included), at the first hit
            "images_to_target": mean_std(h * p["batch"] for h, _ in reached),
            "seconds_to_target": mean_std(r.seconds * h / max(1, r.steps) for h, r in reached),
            "train_err_updates": err_hits, "train_err_reached": len(err_reached),
            "updates_to_err_target": mean_std(h for h, _ in err_reached),
            # wall seconds pro rata of the run's training loop (its held-out evaluations included)
            "seconds_to_err_target": mean_std(r.seconds * h / max(1, r.steps) for h, r in err_reached),
            "runs": [r.run_id for r in runs]})
    return rows


def relu_over_tanh(rows: list[dict], relu: str, tanh: str) -> dict:
    """How many times as many updates (and seconds) tanh needed as ReLU to reach the training-error
    target, per seed (paired: same seed, same data and batch order), over the seeds where both did:
    Krizhevsky et al.'s "six times faster" is this ratio. Seeds where only one got there are counted."""
    r, t = (next(x for x in rows if x["key"] == k) for k in (relu, tanh))
    both = [(a, b) for a, b in zip(r["train_err_updates"], t["train_err_updates"]) if a is not None and b is not None]
    secs = {k: x["seconds"]["mean"] / max(1, x["steps"]) for k, x in (("relu", r), ("tanh", t))}  # per update
    return {"relu": relu, "tanh": tanh, "updates_ratio": mean_std(b / a for a, b in both),
            "seconds_ratio": mean_std(b * secs["tanh"] / (a * secs["relu"]) for a, b in both) if both else
            mean_std([]), "both": len(both), "only_relu": sum(a is not None and b is None for a, b in
                                                              zip(r["train_err_updates"], t["train_err_updates"])),
            "only_tanh": sum(a is None and b is not None for a, b in zip(r["train_err_updates"],
                                                                          t["train_err_updates"])),
            "of": len(r["train_err_updates"])}


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
            sgd = []
            if p["sgd_lr"]:
                ctx.log("lenet-alexnet: ReLU and tanh AlexNet without dropout, SGD + momentum (Krizhevsky et al.)")
                sgd = train_variants(ctx, p, "fashion-mnist", SGD_PAIR, make=sgd_config)
            missing = cifar_missing(p)
            cifar = []
            if missing is None:
                ctx.log("lenet-alexnet (3/3): LeNet-5, LeNet-5 modern and AlexNet on CIFAR-10")
                cifar = train_variants(ctx, p, "cifar10", [v for v in VARIANTS if v[0] in MAIN])
            else:
                ctx.log(f"lenet-alexnet (3/3): CIFAR-10 skipped: {missing}")
        table = (terminal_table(fashion, speed, "Fashion-MNIST") + terminal_table(sgd, {}, "Fashion-MNIST, SGD")
                 + terminal_table(cifar, {}, "CIFAR-10"))
        relu_tanh = {"adam": relu_over_tanh(fashion, "alexnet", "alexnet-tanh")}
        if sgd:
            relu_tanh["sgd"] = relu_over_tanh(sgd, "relu-sgd", "tanh-sgd")
        arch = {k: architecture(k) for k in ("lenet5", "alexnet")}
        return {"fashion": fashion, "cifar": cifar, "architecture": arch, "cifar_skipped": missing, "speed": speed,
                "sgd": sgd,
                "relu_tanh": relu_tanh, "ablations": ablation_effects(fashion, speed),
                "val_acc_target": p["val_acc_target"], "train_err_target": p["train_err_target"],
                "settings": {**p, "val_frac": VAL_FRAC, "optimizer": "adam", "sgd_momentum": 0.9,
                             "window": max(1, p["running"] // p["batch"])}, "table": table}

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.lenet_alexnet.figures import draw_lenet_alexnet

        return draw_lenet_alexnet(store, run, folder)

    def section(self, store, run):
        from nnstudy.studies.lenet_alexnet.report import lenet_alexnet_section

        return lenet_alexnet_section(store, run, self.title)
