"""Vanishing gradients: where the gradient shrinks, by how much, and what each fix buys.

Design (the full cross product of depth x width x activation x init x architecture is not run;
each question gets the slice that answers it, within the default profile's 4 minutes on 2 cores):

1. nielsen: Nielsen's sigmoid nets [784,30,30,10], [784,30,30,30,10], [784,30,30,30,30,10] with
   his recipe (weights N(0, 1/n_in), biases N(0, 1), pixels in [0, 1], a sigmoid + cross-entropy
   output, 1000 training images) on Fashion-MNIST instead of MNIST: the norm of each hidden
   layer's gradient dL/db at initialization over many seeds, beside his values; then the deepest
   net trained full-batch with his SGD (eta 0.1 on his summed cost = lr 1.0 on our per-class mean,
   L2 lambda 5 -> weight decay 5e-4; ours also decays biases), probed over training.
2. init_grid: at initialization only (cheap), the cross product {sigmoid, tanh, relu} x {default,
   xavier, kaiming} x {plain, batch norm, residual} at depth D and the wide width: per-layer
   gradient norms, first/last-layer ratio, mean Jacobian singular value (Glorot & Bengio's ~0.5 vs
   ~0.8 is tanh with default vs xavier init: PyTorch's default is their "standard" init).
3. depth: test accuracy vs depth at the narrow width for sigmoid/default against tanh/xavier and
   ReLU/kaiming, one learning rate (SGD 0.1, Nielsen's), a fixed budget of epochs.
4. fixes: at depth D, the eight arms below, each at its best SGD learning rate (chosen on a
   validation split with the first seed), then every seed; gradients probed over training.
5. spiral: five of the arms at depth D on the spiral (2-D inputs), SGD 0.1, a fixed budget.

Plain SGD throughout: an adaptive optimizer rescales each weight's step and would hide part of the
effect measured. The nets are small: the study runs torch on one thread (on a shared 2-core machine
extra threads cost more than they give) and restores the setting afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nnstudy.config import TrainConfig
from nnstudy.data import load_dataset
from nnstudy.models import build_model
from nnstudy.models.mlp import MLP
from nnstudy.plan import plan_steps
from nnstudy.probes import LayerProbe, log_steps, measure
from nnstudy.studies import QUESTIONS, TOPICS, Entry, Profile, Study, StudyContext, mean_std, register_study
from nnstudy.studies.vanishing.nielsen import run_nielsen
from nnstudy.studies.vanishing.report import table
from nnstudy.threads import torch_threads


@dataclass(frozen=True)
class VanishingProfile(Profile):
    n_train: int  # Fashion-MNIST training images (20% validate)
    epochs: int  # training epochs of the depth and fixes runs
    depth: int  # hidden layers of the grid at initialization, the fixes and the spiral runs
    narrow: int  # hidden width of the depth sweep and the spiral runs
    wide: int  # hidden width of the grid at initialization
    train_widths: tuple[int, ...]  # hidden widths the fixes train at
    depths: tuple[int, ...]  # depths of the depth sweep
    lrs: tuple[float, ...]  # SGD learning rates tried per fix (the best on validation is kept)
    arms: tuple[str, ...] | None  # fixes trained (None: every arm)
    depth_arms: tuple[str, ...]  # arms of the depth sweep
    init_seeds: int  # seeds of Nielsen's nets at initialization (at least the study's seeds)
    nielsen_steps: int  # training steps of Nielsen's nets
    nielsen_seeds: int  # seeds of that training
    spiral_n: int  # spiral points per class
    spiral_steps: int  # full-batch SGD steps on the spiral
    spiral_arms: tuple[str, ...] | None  # arms on the spiral (None: every arm)
    init_batch: int  # images the grid at initialization measures on
    jac_batch: int  # examples whose layer Jacobians are measured


PROFILES = {
    "quick": VanishingProfile(n_train=500, epochs=10, depth=6, narrow=30, wide=64, train_widths=(30,), depths=(2, 6),
                              lrs=(0.1,),
                              arms=("sigmoid", "relu + kaiming", "sigmoid + batch norm", "sigmoid + residual"),
                              depth_arms=("sigmoid", "relu + kaiming"), init_seeds=2, nielsen_steps=10, nielsen_seeds=1,
                              spiral_n=100, spiral_steps=100, spiral_arms=("sigmoid", "relu + kaiming"), init_batch=256,
                              jac_batch=4),
    "default": VanishingProfile(n_train=2000, epochs=10, depth=10, narrow=30, wide=256, train_widths=(30,),
                                depths=(2, 4, 6, 8, 10), lrs=(0.03, 0.1, 0.3, 1.0), arms=None,
                                depth_arms=("sigmoid", "tanh + xavier", "relu + kaiming"), init_seeds=10,
                                nielsen_steps=300, nielsen_seeds=2, spiral_n=300, spiral_steps=500,
                                spiral_arms=("sigmoid", "tanh + xavier", "relu + kaiming", "sigmoid + batch norm",
                                             "sigmoid + residual"),
                                init_batch=500, jac_batch=4),
    "full": VanishingProfile(n_train=5000, epochs=30, depth=20, narrow=30, wide=1000, train_widths=(30, 256),
                             depths=(2, 4, 6, 8, 10, 15, 20), lrs=(0.01, 0.03, 0.1, 0.3, 1.0), arms=None,
                             depth_arms=("sigmoid", "tanh + xavier", "relu + kaiming"), init_seeds=20,
                             nielsen_steps=500, nielsen_seeds=5, spiral_n=1000, spiral_steps=3000, spiral_arms=None,
                             init_batch=1000, jac_batch=32),
}
# name -> (activation, init, batch_norm, residual); the first is the problem, the rest its fixes.
ARMS = {
    "sigmoid": ("sigmoid", "default", False, False),
    "sigmoid + xavier": ("sigmoid", "xavier", False, False),
    "tanh": ("tanh", "default", False, False),
    "tanh + xavier": ("tanh", "xavier", False, False),
    "relu": ("relu", "default", False, False),
    "relu + kaiming": ("relu", "kaiming", False, False),
    "sigmoid + batch norm": ("sigmoid", "default", True, False),
    "sigmoid + residual": ("sigmoid", "default", False, True),
}
SGD_LR = 0.1  # the depth sweep's and the spiral's one learning rate (Nielsen's eta)
BATCH = 100  # mini-batch size of every trained run but Nielsen's (full batch)


# -- the house's nets ---------------------------------------------------------------------------------
def arm_config(arm: str, depth: int, width: int, p: dict, seed: int, lr: float = SGD_LR,
               spiral: bool = False) -> TrainConfig:
    act, init, bn, res = ARMS[arm]
    common = dict(model="mlp", depth=depth, width=width, activation=act, init=init, batch_norm=bn, residual=res,
                  optimizer="sgd", lr=lr, batch_size=BATCH, seed=seed, checkpoint=False, extra={"arm": arm})
    if spiral:
        return TrainConfig(dataset="spiral", n_per_class=p["spiral_n"], data_seed=seed, steps=p["spiral_steps"],
                           **common)
    return TrainConfig(dataset="fashion-mnist", train_subset=p["n_train"], val_frac=0.2, data_seed=0,
                       epochs=p["epochs"], **common)


def at_init(rows: list[dict], key: str = "grad_z_example") -> dict:
    """Scalars of one measurement: first/last-layer gradient ratio, its per-layer geometric mean,
    the mean Jacobian singular value over the square (hidden-to-hidden) layers."""
    g = [r.get(key) for r in rows]
    first_over_last = g[0] / g[-1] if g[-1] else None
    per_layer = first_over_last ** (1 / (len(g) - 1)) if first_over_last and len(g) > 1 else None
    jac = [r["jac_mean"] for r in rows[1:] if r.get("jac_mean") is not None]
    return {"first_over_last": first_over_last, "per_layer": per_layer,
            "jac_mean": sum(jac) / len(jac) if jac else None,
            "saturated": _mean(r.get("saturated") for r in rows)}


def finite_ms(values) -> dict:
    """mean_std of the finite values (an exploding net's inf or NaN is left out, and counted)."""
    vals = list(values)
    ok = [v for v in vals if v is not None and math.isfinite(v)]
    return {**mean_std(ok), "non_finite": sum(v is not None and not math.isfinite(v) for v in vals)}


def _mean(values):
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else None


def probed_run(ctx: StudyContext, cfg: TrainConfig, name: str, cache: dict) -> dict:
    """Train one config with a probe at log-spaced steps (0 first); its final numbers and at-init
    scalars. A config already trained in this study (the depth sweep and the fixes share some)
    is not trained again: `cache` maps config digests to results."""
    if cfg.digest() in cache:
        return cache[cfg.digest()]
    data = load_dataset(cfg)
    torch.manual_seed(cfg.seed)  # as train_and_evaluate builds it
    model = build_model(cfg, data.input_shape, data.num_classes)
    probe = LayerProbe(model, log_steps(plan_steps(cfg, len(data.x_train))[0]), jacobian_batch=8)
    res = ctx.train(cfg, name, data=data, model=model, hook=probe)
    probe.close()
    ctx.store.log_metrics(res.run_id, probe.records)
    init = at_init(probe.rows[0]) if 0 in probe.rows else {}
    cache[cfg.digest()] = {"run": res.run_id, "status": res.status, "final": res.final, "init": init}
    return cache[cfg.digest()]


def summarize(arm: str, runs: list[dict], **extra) -> dict:
    ok = [r for r in runs if r["status"] == "complete"]
    out = {"arm": arm, **extra, "test_acc": mean_std(r["final"].get("test_acc") for r in ok),
           "train_acc": mean_std(r["final"].get("train_acc") for r in ok), "diverged": len(runs) - len(ok),
           "runs": [r["run"] for r in runs]}
    for k in ("first_over_last", "per_layer", "jac_mean", "saturated"):
        out[k] = finite_ms(r["init"].get(k) for r in runs)
    return out


def chance(p: dict, spiral: bool = False) -> float:
    """Accuracy of a constant guess on balanced classes: 1 / number of classes."""
    return 1 / load_dataset(arm_config("sigmoid", 1, 1, p, 0, spiral=spiral)).num_classes


def run_init_grid(ctx: StudyContext, p: dict) -> dict:
    """Every activation x init x architecture at depth D, width `wide`, measured at initialization
    on one batch of training images (no training)."""
    cfg = TrainConfig(dataset="fashion-mnist", train_subset=p["init_batch"], data_seed=0)
    data = load_dataset(cfg)
    x, y = data.prepare(data.x_train), data.y_train
    seeds = ctx.seeds
    cells = []
    for act in ("sigmoid", "tanh", "relu"):
        for init in ("default", "xavier", "kaiming"):
            for arch in ("plain", "batch norm", "residual"):
                meas = []
                for s in seeds:
                    torch.manual_seed(s)
                    model = MLP(784, 10, p["wide"], p["depth"], act, init, batch_norm=arch == "batch norm",
                                residual=arch == "residual")
                    meas.append(measure(model, x, y, jacobian_batch=p["jac_batch"]))
                scal = [at_init(m) for m in meas]
                cells.append({"activation": act, "init": init, "arch": arch,
                              "grad": [finite_ms(m[i]["grad_z_example"] for m in meas) for i in range(p["depth"])],
                              **{k: finite_ms(sc[k] for sc in scal) for k in scal[0]}})
    return {"width": p["wide"], "depth": p["depth"], "batch": p["init_batch"], "seeds": len(seeds), "cells": cells}


def run_depth(ctx: StudyContext, p: dict, cache: dict) -> dict:
    rows = []
    for arm in p["depth_arms"]:
        for depth in p["depths"]:
            runs = [probed_run(ctx, arm_config(arm, depth, p["narrow"], p, s), f"depth {depth} {arm} seed {s}", cache)
                    for s in ctx.seeds]
            rows.append(summarize(arm, runs, depth=depth))
    return {"width": p["narrow"], "lr": SGD_LR, "epochs": p["epochs"], "rows": rows, "chance": chance(p)}


def run_fixes(ctx: StudyContext, p: dict, width: int, cache: dict) -> dict:
    """Each arm at its best learning rate (validation accuracy, first seed), then every seed."""
    rows = []
    for arm in p["arms"] or ARMS:
        tried = []
        if len(p["lrs"]) > 1:
            for lr in p["lrs"]:
                res = ctx.train(arm_config(arm, p["depth"], width, p, ctx.seeds[0], lr), f"fixes {arm} lr {lr:g}")
                tried.append({"lr": lr, "val_acc": res.final.get("val_acc")})
        best = max(tried, key=lambda t: t["val_acc"] or 0)["lr"] if tried else p["lrs"][0]
        runs = [probed_run(ctx, arm_config(arm, p["depth"], width, p, s, best), f"fixes {arm} seed {s}", cache)
                for s in ctx.seeds]
        rows.append(summarize(arm, runs, lr=best, lr_search=tried,
                              best_val_acc=max((t["val_acc"] or 0 for t in tried), default=None)))
    base = rows[0]["test_acc"]["mean"]
    for r in rows:
        r["gain"] = None if base is None or r["test_acc"]["mean"] is None else r["test_acc"]["mean"] - base
    return {"depth": p["depth"], "width": width, "lrs": list(p["lrs"]), "epochs": p["epochs"], "rows": rows,
            "chance": chance(p)}


def run_spiral(ctx: StudyContext, p: dict, cache: dict) -> dict:
    rows = []
    for arm in p["spiral_arms"] or ARMS:
        runs = [probed_run(ctx, arm_config(arm, p["depth"], p["narrow"], p, s, spiral=True),
                           f"spiral {arm} seed {s}", cache) for s in ctx.seeds]
        rows.append(summarize(arm, runs))
    return {"depth": p["depth"], "width": p["narrow"], "lr": SGD_LR, "steps": p["spiral_steps"],
            "n_per_class": p["spiral_n"], "rows": rows, "chance": chance(p, spiral=True)}


@register_study
class VanishingStudy(Study):
    name = "vanishing"
    title = "What is the vanishing-gradient phenomenon, and what fixes it?"
    help = "vanishing gradients: per-layer gradients vs Nielsen, Jacobians vs Glorot, fixes"
    entries = (Entry(TOPICS, 3, "Vanishing gradients",
                     "\u201cDuring backpropagation the gradient shrinks layer by layer until it is very small, so the "
                     "parameters cannot be updated effectively and training slows down or stalls.\u201d"),
               Entry(QUESTIONS, 3, "Q3. What is the vanishing-gradient phenomenon?",
                     "\u201cIn training, especially in backpropagation, the gradient gets smaller from layer to "
                     "layer until it is tiny, so parameters cannot be updated and training slows or stalls.\u201d",
                     see=True))
    default_seeds = {"quick": 2, "default": 3, "full": 5}

    def run(self, ctx: StudyContext) -> dict:
        p = PROFILES[ctx.profile]
        cache = {}  # config digest -> probed run, shared by the parts
        with torch_threads(1):
            ctx.log("vanishing (1/5): Nielsen's sigmoid nets, per-layer gradients at the start")
            nielsen = run_nielsen(ctx, p)
            ctx.log("vanishing (2/5): activation x init x architecture at initialization")
            grid = run_init_grid(ctx, p)
            ctx.log("vanishing (3/5): test accuracy vs depth")
            depth = run_depth(ctx, p, cache)
            ctx.log("vanishing (4/5): the fixes, each at its best learning rate")
            fixes = [run_fixes(ctx, p, w, cache) for w in p["train_widths"]]
            ctx.log("vanishing (5/5): the spiral")
            spiral = run_spiral(ctx, p, cache)
        design = {k: (list(v) if isinstance(v, tuple) else v) for k, v in p.items()}
        design["arms"] = list(p["arms"] or ARMS)
        return {"design": {**design, "batch": BATCH, "sgd_lr": SGD_LR}, "nielsen": nielsen, "init_grid": grid,
                "depth": depth, "fixes": fixes, "spiral": spiral,
                "table": table(nielsen, depth, fixes, spiral)}

    def section(self, store, run):
        from nnstudy.studies.vanishing.report import vanishing_section

        return vanishing_section(store, run, self.title)

    def draw(self, store, run, folder) -> list:
        from nnstudy.studies.vanishing.figures import draw_vanishing

        return draw_vanishing(store, run, folder)
